"""Video sources: readers, published layouts, bouncing balls, transforms, clip datasets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from hurricane_ode.config import DataConfig
from hurricane_ode.data.clips import Clip, collate_clips
from hurricane_ode.data.sources import available_sources, build_dataset
from hurricane_ode.data.video import (
    PAPER_BOUNCING_BALLS,
    PAPER_EXTRAPOLATION,
    PAPER_INTERPOLATION,
    BouncingBallsDataset,
    VideoClipDataset,
    VideoEntry,
    augment_frames,
    bouncing_balls_video,
    center_crop,
    center_crop_resize,
    count_frames,
    discover_kth,
    discover_moving_gif,
    discover_penn_action,
    discover_video_folder,
    hflip,
    read_frames,
    rotate,
)

iio = pytest.importorskip("imageio.v3")

T, H, W = 12, 24, 32
SQUARE = 6


def square_video(n: int = T, colour=(255, 0, 0)) -> np.ndarray:
    """uint8 [n, H, W, 3]: a coloured square moving 2 px right per frame on grey."""
    frames = np.full((n, H, W, 3), 40, np.uint8)
    for t in range(n):
        frames[t, 8 : 8 + SQUARE, 2 * t : 2 * t + SQUARE] = colour
    return frames


def square_x(frame: torch.Tensor) -> float:
    """Column centroid of the red square in a [3, H, W] frame."""
    red = (frame[0] > 0.6) & (frame[1] < 0.4)
    cols = torch.nonzero(red)[:, 1].float()
    return float(cols.mean())


def write_frames(folder, frames: np.ndarray, ext: str = "png") -> None:
    folder.mkdir(parents=True)
    for t, f in enumerate(frames):  # unpadded names: natural sort must order 2 before 10
        iio.imwrite(folder / f"frame{t}.{ext}", f)


def write_video(path, frames: np.ndarray) -> None:
    pytest.importorskip("av", reason="PyAV (extra 'video') is needed to write/read AVI and MP4")
    codec = "libx264" if path.suffix == ".mp4" else "mpeg4"
    iio.imwrite(path, frames, plugin="pyav", codec=codec, fps=10)


# ----------------------------------------------------------------------------- readers
def test_frame_folder_read_exactly_in_natural_order(tmp_path):
    frames = square_video()
    write_frames(tmp_path / "v", frames)
    x = read_frames(tmp_path / "v")
    assert x.shape == (T, 3, H, W) and x.dtype == torch.float32
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    torch.testing.assert_close(x, torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255)
    sub = read_frames(tmp_path / "v", [10, 2])
    torch.testing.assert_close(sub, x[[10, 2]])
    assert count_frames(tmp_path / "v") == T
    with pytest.raises(IndexError, match="out of range"):
        read_frames(tmp_path / "v", [T])


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_video_file_read_back_within_codec_tolerance(tmp_path, suffix):
    frames = square_video()
    path = tmp_path / f"clip{suffix}"
    write_video(path, frames)
    assert count_frames(path) == T
    x = read_frames(path)
    ref = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    assert x.shape == (T, 3, H, W)
    assert float((x - ref).abs().mean()) < 0.03  # lossy codec, but close
    # order preserved: each decoded frame is closest to the original frame of the same index
    dist = ((x[:, None] - ref[None]) ** 2).mean(dim=(2, 3, 4))
    assert torch.equal(dist.argmin(dim=1), torch.arange(T))
    torch.testing.assert_close(read_frames(path, [7, 3]), x[[7, 3]], atol=1e-6, rtol=0)


def test_reader_errors_name_the_path(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty"):
        read_frames(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="notes.txt"):
        read_frames(tmp_path / "notes.txt")


# ----------------------------------------------------------------------------- layouts
def test_video_folder_layout_and_clips_with_loader(tmp_path):
    write_frames(tmp_path / "train" / "a", square_video())
    write_frames(tmp_path / "train" / "b", square_video(colour=(250, 10, 10)))
    write_frames(tmp_path / "test" / "c", square_video())
    entries = discover_video_folder(tmp_path, "train")
    assert [e.name for e in entries] == ["a", "b"]
    ds = VideoClipDataset(entries, PAPER_EXTRAPOLATION, seed=1, train=False, image_size=(16, 16))
    clip = ds[0]
    assert isinstance(clip, Clip)
    assert clip.inputs.shape == (5, 3, 16, 16) and clip.targets.shape == (5, 3, 16, 16)
    torch.testing.assert_close(clip.input_times, torch.arange(5.0))
    torch.testing.assert_close(clip.target_times, torch.arange(5.0, 10.0))
    batch = next(iter(DataLoader(ds, batch_size=2, collate_fn=collate_clips)))
    assert batch.inputs.shape == (2, 5, 3, 16, 16) and batch.target_times.shape == (2, 5)
    with pytest.raises(FileNotFoundError, match="train,test"):
        discover_video_folder(tmp_path / "train", "train")


def test_moving_gif_layout_reads_gifs(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    iio.imwrite(tmp_path / "test" / "cat.gif", square_video(), loop=0, duration=100)
    (entry,) = discover_moving_gif(tmp_path, "test")
    x = read_frames(entry.path)
    assert x.shape == (T, 3, H, W)
    assert [round(square_x(x[t])) for t in (0, 5)] == [round(SQUARE / 2 - 0.5), 10 + round(SQUARE / 2 - 0.5)]
    with pytest.raises(ValueError, match="no videos"):
        discover_moving_gif(tmp_path, "train")


def test_kth_split_by_person(tmp_path):
    for person in (1, 16, 17, 25):
        for action in ("walking", "boxing"):
            d = tmp_path / action
            d.mkdir(exist_ok=True)
            (d / f"person{person:02d}_{action}_d1_uncomp.avi").write_bytes(b"")
    (tmp_path / "walking" / "readme.txt").write_text("not a video")
    train = discover_kth(tmp_path, "train")
    test = discover_kth(tmp_path, "test")
    assert sorted(int(e.name[6:8]) for e in train) == [1, 1, 16, 16]
    assert sorted(int(e.name[6:8]) for e in test) == [17, 17, 25, 25]
    assert {e.label for e in train} == {"walking", "boxing"}
    assert train[0].path.name.endswith("_uncomp.avi")
    (tmp_path / "other").mkdir()
    with pytest.raises(ValueError, match="person<NN>"):
        discover_kth(tmp_path / "other", "train")


def test_penn_action_train_flag_honoured(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    (tmp_path / "labels").mkdir()
    flags = {"0001": 1, "0002": -1, "0003": 1}
    for vid, flag in flags.items():
        write_frames(tmp_path / "frames" / vid, square_video(3), ext="jpg")
        scipy_io.savemat(tmp_path / "labels" / f"{vid}.mat", {"train": flag, "action": "tennis_serve"})
    assert [e.name for e in discover_penn_action(tmp_path, "train")] == ["0001", "0003"]
    (test,) = discover_penn_action(tmp_path, "test")
    assert test.name == "0002" and test.label == "tennis_serve"
    (tmp_path / "labels" / "0003.mat").unlink()
    with pytest.raises(FileNotFoundError, match="0003.mat"):
        discover_penn_action(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match="labels"):
        discover_penn_action(tmp_path / "frames", "train")


# ----------------------------------------------------------------------------- bouncing balls
def test_bouncing_balls_seeded_inside_and_three():
    from scipy import ndimage

    a, pos = bouncing_balls_video(7, n_frames=40)
    b, _ = bouncing_balls_video(7, n_frames=40)
    c, _ = bouncing_balls_video(8, n_frames=40)
    assert a.shape == (40, 1, 32, 32) and torch.equal(a, b) and not torch.equal(a, c)
    r = 3.2
    assert pos.shape == (40, 3, 2)
    assert pos.min() >= r - 1e-9 and pos.max() <= 32 - r + 1e-9  # discs inside the frame
    _, n_blobs = ndimage.label(a[0, 0].numpy() > 0.5)
    assert n_blobs == 3
    mass = a.sum(dim=(1, 2, 3))
    assert float(mass.min()) > 0.8 * float(mass[0])  # no ball leaves the frame
    d = np.linalg.norm(pos[:, :, None] - pos[:, None], axis=-1)[:, ~np.eye(3, dtype=bool)]
    assert d.min() > 2 * r - 0.5  # ball-ball collisions keep them apart
    vel = np.diff(pos, axis=0)
    assert (np.sign(vel[1:]) != np.sign(vel[:-1])).any()  # at least one bounce in 40 frames
    rgb = BouncingBallsDataset(seed=7, train=False, n_videos=2, channels=3)[1]
    assert rgb.inputs.shape == (10, 3, 32, 32)
    colours = rgb.inputs[0].amax(dim=(1, 2))
    assert (colours > 0.9).all()  # red, green and blue balls all present


def test_bouncing_balls_dataset_and_registry():
    assert {"bouncing_balls", "video_folder", "kth", "moving_gif", "penn_action"} <= set(available_sources())
    cfg = DataConfig(source="bouncing_balls", n_videos=4, sampling=PAPER_BOUNCING_BALLS)
    ds = build_dataset(cfg, "train", seed=3)
    assert len(ds) == 4
    clip = ds[2]
    assert clip.inputs.shape == (10, 1, 32, 32) and clip.targets.shape == (10, 1, 32, 32)
    torch.testing.assert_close(clip.target_times, torch.arange(10.0, 20.0))
    frames, _ = ds.video(2)
    torch.testing.assert_close(torch.cat([clip.inputs, clip.targets]), frames)
    again = build_dataset(cfg, "train", seed=3)[2]
    assert torch.equal(again.inputs, clip.inputs)
    test = build_dataset(cfg, "test", seed=3)[2]
    assert not torch.equal(test.inputs, clip.inputs)  # train and test videos differ
    batch = collate_clips([ds[i] for i in range(3)])
    assert batch.inputs.shape == (3, 10, 1, 32, 32)


# ----------------------------------------------------------------------------- transforms
def test_flip_rotate_crop_resize():
    x = torch.rand(3, 2, 10, 14)
    torch.testing.assert_close(hflip(x)[..., 0], x[..., -1])
    torch.testing.assert_close(hflip(hflip(x)), x)
    torch.testing.assert_close(rotate(x, 0.0), x, atol=1e-5, rtol=0)
    r = rotate(x, 7.0)
    assert r.shape == x.shape and not torch.allclose(r, x)
    sq = torch.zeros(1, 1, 21, 21)
    sq[..., 10, 15] = 1.0  # a dot right of centre moves off its row under a 90 degree turn
    assert int(rotate(sq, 90.0)[0, 0].argmax()) // 21 != 10
    assert center_crop(x, (6, 6)).shape == (3, 2, 6, 6)
    torch.testing.assert_close(center_crop(x, (6, 6)), x[..., 2:8, 4:10])
    kth = torch.rand(2, 3, 120, 160)
    assert center_crop_resize(kth, (128, 128)).shape == (2, 3, 128, 128)
    with pytest.raises(ValueError, match="does not fit"):
        center_crop(x, (11, 4))


def test_augment_is_seeded_and_applies_one_draw_to_all_frames():
    x = torch.rand(1, 3, 16, 16).expand(4, 3, 16, 16)  # four identical frames
    a = augment_frames(x, torch.Generator().manual_seed(5))
    b = augment_frames(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == x.shape
    for t in range(1, 4):
        torch.testing.assert_close(a[t], a[0])
    flipped = augment_frames(x, torch.Generator().manual_seed(0), flip_prob=1.0, max_degrees=0.0)
    torch.testing.assert_close(flipped, x.flip(-1))


# ----------------------------------------------------------------------------- clip patterns
def test_interpolation_and_irregular_clip_times(tmp_path):
    write_frames(tmp_path / "v", square_video(14))
    entries = [VideoEntry(tmp_path / "v", "v")]
    ds = VideoClipDataset(entries, PAPER_INTERPOLATION, seed=0, train=False, image_size=None)
    clip = ds[0]
    torch.testing.assert_close(clip.input_times, torch.tensor([0.0, 2, 4, 6, 8]))
    torch.testing.assert_close(clip.target_times, torch.tensor([1.0, 3, 5, 7]))
    # content matches the times: square centroid moves 2 px per frame unit
    x_in = [square_x(f) for f in clip.inputs]
    x_tg = [square_x(f) for f in clip.targets]
    assert np.allclose(np.diff(x_in), 4.0) and np.allclose(np.array(x_tg) - x_in[:-1], 2.0)

    irregular = dataclasses.replace(PAPER_EXTRAPOLATION, sampling_rate=0.5, irregular=True)
    write_frames(tmp_path / "long", np.concatenate([square_video(14), square_video(8)]))
    entries = [VideoEntry(tmp_path / "long", "long")]

    def make(augment: bool = False) -> VideoClipDataset:
        return VideoClipDataset(
            entries, irregular, seed=0, train=True, image_size=(8, 8), augment=augment, length=6
        )

    ds = make()
    times = [ds[i].input_times for i in range(6)]
    assert any(not torch.equal(t, times[0]) for t in times)  # irregular draws differ
    for i in range(6):
        c = ds[i]
        assert c.input_times[0] == 0 and (torch.diff(c.input_times) >= 1).all()
        torch.testing.assert_close(c.target_times, c.input_times[-1] + torch.arange(1.0, 6.0))
    # deterministic per (seed, epoch, index); set_epoch re-draws
    assert all(torch.equal(make()[i].inputs, ds[i].inputs) for i in range(6))
    ds.set_epoch(1)
    assert any(not torch.equal(ds[i].input_times, times[i]) for i in range(6))
    # augmentation changes pixels, never times
    aug = make(augment=True)
    assert all(torch.equal(aug[i].input_times, make()[i].input_times) for i in range(6))
    assert any(not torch.equal(aug[i].inputs, make()[i].inputs) for i in range(6))


def test_short_videos_skipped_and_all_short_rejected(tmp_path):
    write_frames(tmp_path / "long", square_video())
    write_frames(tmp_path / "short", square_video(4))
    entries = [VideoEntry(tmp_path / "long", "long"), VideoEntry(tmp_path / "short", "short")]
    with pytest.warns(UserWarning, match="skipped 1"):
        ds = VideoClipDataset(entries, PAPER_EXTRAPOLATION, image_size=None)
    assert len(ds) == 1
    with pytest.raises(ValueError, match="shorter than the 10 frames"):
        VideoClipDataset(entries[1:], PAPER_EXTRAPOLATION)
