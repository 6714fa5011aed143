"""The paper's video protocols: interpolation that reconstructs its inputs, reversed-input augmentation."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from hurricane_ode.config import DataConfig, SamplingConfig
from hurricane_ode.data.sources import build_dataset
from hurricane_ode.data.video import PAPER_BOUNCING_BALLS, PAPER_INTERPOLATION, BouncingBallsDataset
from hurricane_ode.data.video.dataset import VIDEO_TASKS, task_name


def frame_index(frame: torch.Tensor, video: torch.Tensor) -> int:
    """Which frame of ``video`` ``frame`` is (exact match)."""
    hits = [k for k in range(video.shape[0]) if torch.equal(video[k], frame)]
    assert len(hits) == 1, hits
    return hits[0]


def test_task_names():
    assert VIDEO_TASKS == ("extrapolation", "interpolation", "interpolation_supervised")
    assert task_name("interpolation") == "interpolation"
    assert task_name("interpolation", "supervised") == "interpolation_supervised"
    assert task_name("extrapolation", "supervised") == "extrapolation"
    with pytest.raises(ValueError, match="interpolation_protocol"):
        task_name("interpolation", "teacher")
    with pytest.raises(ValueError, match="interpolation_protocol"):
        BouncingBallsDataset(PAPER_INTERPOLATION, n_videos=2, protocol="teacher")


def test_paper_interpolation_trains_on_inputs_and_scores_the_frames_between():
    train = BouncingBallsDataset(PAPER_INTERPOLATION, seed=1, train=True, n_videos=3)
    test = BouncingBallsDataset(PAPER_INTERPOLATION, seed=1, train=False, n_videos=3)
    assert train.task == test.task == "interpolation"
    for i in range(3):
        clip = train[i]
        torch.testing.assert_close(clip.targets, clip.inputs)  # reconstruct the observed frames
        torch.testing.assert_close(clip.target_times, clip.input_times)
        assert clip.input_times.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
        video, _ = train.video(i)
        assert [frame_index(f, video) for f in clip.targets] == [0, 2, 4, 6, 8]
        held = test[i]
        assert held.target_times.tolist() == [1.0, 3.0, 5.0, 7.0]
        video, _ = test.video(i)
        assert [frame_index(f, video) for f in held.targets] == [1, 3, 5, 7]


def test_supervised_interpolation_trains_on_the_frames_between():
    ds = BouncingBallsDataset(PAPER_INTERPOLATION, seed=1, train=True, n_videos=2, protocol="supervised")
    assert ds.task == "interpolation_supervised"
    assert ds[0].target_times.tolist() == [1.0, 3.0, 5.0, 7.0]


def test_paper_protocol_keeps_dropped_inputs_out_of_the_loss():
    s = dataclasses.replace(PAPER_INTERPOLATION, input_drop_prob=0.5)
    ds = BouncingBallsDataset(s, seed=0, train=True, n_videos=20)
    masks = [(ds[i].input_mask, ds[i].target_mask) for i in range(20)]
    assert all(torch.equal(a, b) for a, b in masks)
    assert any(not bool(a.all()) for a, _ in masks)


@pytest.mark.parametrize("sampling", [PAPER_BOUNCING_BALLS, PAPER_INTERPOLATION], ids=["extrap", "interp"])
def test_reverse_plays_training_clips_backward_half_the_time(sampling):
    n = 24
    ds = BouncingBallsDataset(sampling, seed=2, train=True, n_videos=n, reverse=True)
    backward = 0
    for i in range(n):
        clip = ds[i]
        video, _ = ds.video(i)
        idx = [frame_index(f, video) for f in clip.inputs]
        tgt = [frame_index(f, video) for f in clip.targets]
        assert clip.input_times[0] == 0 and bool((clip.input_times.diff() > 0).all())
        steps = sorted({b - a for a, b in zip(idx, idx[1:])})
        assert len(steps) == 1 and abs(steps[0]) == (1 if sampling is PAPER_BOUNCING_BALLS else 2)
        sign = 1 if steps[0] > 0 else -1
        backward += sign < 0
        # times are frame distances from the first input, in the playing direction
        assert clip.input_times.tolist() == [float(sign * (k - idx[0])) for k in idx]
        assert clip.target_times.tolist() == [float(sign * (k - idx[0])) for k in tgt]
        if sampling is PAPER_BOUNCING_BALLS:  # the targets continue past the last input
            assert tgt[0] == idx[-1] + sign
    assert 4 <= backward <= 20  # about half
    # the same item is the same clip (seeded), and evaluation clips are never reversed
    torch.testing.assert_close(ds[5].inputs, ds[5].inputs)
    test = BouncingBallsDataset(sampling, seed=2, train=False, n_videos=10, reverse=True)
    for i in range(10):
        video, _ = test.video(i)
        idx = [frame_index(f, video) for f in test[i].inputs]
        assert idx == sorted(idx)


def test_registry_passes_protocol_and_reverse_from_the_data_config():
    s = SamplingConfig(task="interpolation", n_inputs=3, n_targets=2, sampling_rate=0.5, irregular=False,
                       frame_interval_h=1.0, max_gap_h=4.0)  # fmt: skip
    data = DataConfig(source="bouncing_balls", image_size=(16, 16), n_videos=4, sampling=s,
                      interpolation_protocol="supervised", reverse_inputs=False)  # fmt: skip
    ds = build_dataset(data, "train", 0)
    assert ds.task == "interpolation_supervised" and ds.reverse is False
    data.interpolation_protocol, data.reverse_inputs = "paper", True
    ds = build_dataset(data, "train", 0)
    assert ds.task == "interpolation" and ds.reverse is True
    assert DataConfig().reverse_inputs is True and DataConfig().interpolation_protocol == "paper"
