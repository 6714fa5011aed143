"""Training loop, checkpoint/resume and CLI tests (tiny real VidODE + discriminators on CPU)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from hurricane_ode.config import Config, config_from_dict
from hurricane_ode.data.clips import Clip
from hurricane_ode.data.sources import SOURCE_REGISTRY, build_dataset, register_source
from hurricane_ode.training.checkpoint import (
    FORMAT_VERSION,
    LAST,
    load_checkpoint,
    load_model,
    save_checkpoint,
    step_checkpoints,
)
from hurricane_ode.training.distributed import DistInfo
from hurricane_ode.training.trainer import epoch_batches, train

SIZE = 16


def moving_blob_clip(i: int, epoch: int = 0, seed: int = 0, t_in: int = 3, t_out: int = 3) -> Clip:
    """A Gaussian blob moving at a per-clip velocity; a pure function of (seed, epoch, i)."""
    g = torch.Generator().manual_seed(seed * 7919 + epoch * 104729 + i)
    c0 = torch.rand(2, generator=g) * 6 + 5
    vel = (torch.rand(2, generator=g) - 0.5) * 0.6
    axis = torch.arange(SIZE, dtype=torch.float32)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    times = torch.arange(t_in + t_out, dtype=torch.float32) * 3.0
    frames = []
    for t in times:
        cy, cx = c0 + vel * t / 3.0
        blob = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 6.0)
        frames.append(torch.stack([blob, -blob, 0.5 * blob]))
    frames = torch.stack(frames).float()
    return Clip(
        inputs=frames[:t_in],
        input_times=times[:t_in],
        input_mask=torch.ones(t_in, dtype=torch.bool),
        targets=frames[t_in:],
        target_times=times[t_in:],
        target_mask=torch.ones(t_out, dtype=torch.bool),
    )


class MemoryClips(Dataset):
    """In-memory clip source obeying the source contract (set_epoch, stats)."""

    def __init__(self, n: int, seed: int = 0, vary_by_epoch: bool = True) -> None:
        self.n, self.seed, self.vary, self.epoch = n, seed, vary_by_epoch, 0
        self.stats = {"U850": (0.0, 1.0), "V850": (0.0, 1.0), "PSL": (101000.0, 500.0)}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Clip:
        return moving_blob_clip(i, self.epoch if self.vary else 0, self.seed)


if "test_memory" not in SOURCE_REGISTRY:

    @register_source("test_memory")
    def _memory_source(data, split, seed):
        return MemoryClips(data.clips_per_epoch, seed=seed + (0 if split == "train" else 1))


def tiny_config(tmp_path: Path, **train) -> Config:
    values = {
        "data": {
            "source": "test_memory",
            "clips_per_epoch": 8,
            "sampling": {"n_inputs": 3, "n_targets": 3},
        },
        "model": {
            "image_size": [SIZE, SIZE],
            "hidden_channels": 8,
            "base_channels": 8,
            "n_downsample": 1,
            "disc_base_channels": 8,
            "time_scale": 1.0 / 3.0,
            "adversarial": True,
            "solver": {"method": "euler", "step_size": 0.5},
        },
        "train": {
            "batch_size": 2,
            "epochs": 100,
            "output_dir": str(tmp_path),
            "progress": False,
            "checkpoint_every": 1000,
            "log_every": 1,
            "device": "cpu",
            **train,
        },
    }
    return config_from_dict(values)


def read_metrics(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_tiny_run_overfits_fixed_clips(tmp_path):
    cfg = tiny_config(tmp_path, max_steps=50, lr=1e-2, batch_size=4)
    cfg.model.adversarial = False
    result = train(cfg, dataset=MemoryClips(4, vary_by_epoch=False))
    rows = read_metrics(tmp_path / "metrics.csv")
    first = float(rows[0]["loss"])
    last = min(float(r["loss"]) for r in rows[-5:])
    print(f"overfit: loss {first:.4g} -> {last:.4g} (ratio {first / last:.1f})")
    assert result.step == 50 and len(rows) == 50
    assert first / last >= 10.0


def _state_equal(a: dict, b: dict, where: str = "") -> None:
    assert a.keys() == b.keys(), where
    for k in a:
        va, vb = a[k], b[k]
        if isinstance(va, dict):
            _state_equal(va, vb, f"{where}.{k}")
        elif isinstance(va, torch.Tensor):
            assert torch.equal(va, vb), f"{where}.{k} differs"
        elif isinstance(va, list) and va and isinstance(va[0], dict):
            for i, (x, y) in enumerate(zip(va, vb)):
                _state_equal(x, y, f"{where}.{k}[{i}]")
        else:
            assert va == vb, f"{where}.{k}: {va!r} != {vb!r}"


def test_resume_mid_epoch_matches_uninterrupted_run(tmp_path):
    # 8 clips / batch 2 = 4 batches per epoch: 3 steps stops mid-epoch 0, 6 ends mid-epoch 1.
    straight = train(tiny_config(tmp_path / "a", max_steps=6))
    train(tiny_config(tmp_path / "b", max_steps=3))
    part = load_checkpoint(tmp_path / "b")
    assert (part["step"], part["epoch"], part["batch_in_epoch"]) == (3, 0, 3)
    resumed = train(tiny_config(tmp_path / "b", max_steps=6), resume=True)
    assert resumed.step == straight.step == 6 and resumed.epoch == straight.epoch == 1
    a, b = load_checkpoint(tmp_path / "a"), load_checkpoint(tmp_path / "b")
    for key in ("model", "discriminators", "optimizer", "optimizer_d", "scheduler", "scheduler_d"):
        _state_equal(a[key], b[key], key)
    assert a["scheduler"]["last_epoch"] == 1  # the LR decayed once, at the epoch boundary
    _state_equal(a["rng"], b["rng"], "rng")
    # metrics.csv of the resumed run holds each step exactly once
    steps = [int(r["step"]) for r in read_metrics(tmp_path / "b" / "metrics.csv")]
    assert steps == list(range(1, 7))


def test_checkpoint_contents_and_load_model(tmp_path):
    cfg = tiny_config(tmp_path, max_steps=2, checkpoint_every=1, keep_checkpoints=1)
    result = train(cfg, dataset=MemoryClips(4))
    assert result.checkpoint == tmp_path / LAST
    assert [p.name for p in step_checkpoints(tmp_path)] == ["step_000000002.pt"]
    state = load_checkpoint(result.checkpoint)
    assert state["format_version"] == FORMAT_VERSION
    assert state["stats"]["PSL"] == {"mean": 101000.0, "std": 500.0}
    assert state["config"]["model"]["hidden_channels"] == 8
    model, meta = load_model(tmp_path)
    assert not model.training and meta["step"] == 2 and meta["stats"]["PSL"] == (101000.0, 500.0)
    assert len(meta["sha256"]) == 64
    clip = MemoryClips(1)[0]
    with torch.no_grad():
        a = model(clip.inputs[None], clip.input_times[None], clip.target_times[None], None).frames
        b = result.model.eval()(
            clip.inputs[None], clip.input_times[None], clip.target_times[None], None
        ).frames
    assert torch.equal(a, b)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        load_checkpoint(tmp_path / "nothing.pt")
    torch.save({"format_version": FORMAT_VERSION + 1}, tmp_path / "future.pt")
    with pytest.raises(ValueError, match="format version"):
        load_checkpoint(tmp_path / "future.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    save_checkpoint({"step": 1, "model": {"w": torch.ones(3)}}, tmp_path)
    real_save = torch.save

    def failing_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 partial")  # some bytes reach the disk, then the writer dies
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"step": 2, "model": {"w": torch.zeros(3)}}, tmp_path)
    monkeypatch.setattr(torch, "save", real_save)
    state = load_checkpoint(tmp_path / LAST)
    assert state["step"] == 1 and torch.equal(state["model"]["w"], torch.ones(3))
    assert sorted(os.listdir(tmp_path)) == [LAST, "step_000000001.pt"]  # no temp, no step 2


def test_refuses_to_overwrite_and_to_resume_nothing(tmp_path):
    with pytest.raises(FileNotFoundError, match="last.pt"):
        train(tiny_config(tmp_path, max_steps=1), dataset=MemoryClips(4), resume=True)
    train(tiny_config(tmp_path, max_steps=1), dataset=MemoryClips(4))
    with pytest.raises(FileExistsError, match="resume"):
        train(tiny_config(tmp_path, max_steps=1), dataset=MemoryClips(4))


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(ValueError, match="batch_size"):
        train(tiny_config(tmp_path, batch_size=16), dataset=MemoryClips(4))
    cfg = tiny_config(tmp_path / "c", max_steps=1)
    cfg.model.in_channels = 2
    with pytest.raises(ValueError, match="in_channels"):
        train(cfg, dataset=MemoryClips(4))
    with pytest.raises(ValueError, match="unknown data.source 'nope'"):
        build_dataset(config_from_dict({"data": {"source": "nope"}}).data)


def test_epoch_batches_are_seeded_and_sharded():
    one = DistInfo()
    e0 = epoch_batches(10, 3, seed=1, epoch=0, info=one)
    assert e0 == epoch_batches(10, 3, seed=1, epoch=0, info=one)
    assert e0 != epoch_batches(10, 3, seed=1, epoch=1, info=one)
    assert len(e0) == 3 and all(len(b) == 3 for b in e0)
    r0 = epoch_batches(8, 2, 0, 0, DistInfo(rank=0, world_size=2))
    r1 = epoch_batches(8, 2, 0, 0, DistInfo(rank=1, world_size=2))
    flat0, flat1 = sum(r0, []), sum(r1, [])
    assert sorted(flat0 + flat1) == list(range(8))


def test_cli_help_lists_every_option(capsys):
    from hurricane_ode.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for opt in (
        "--config",
        "--resume",
        "--output-dir",
        "--max-steps",
        "--device",
        "--set",
        "--quiet",
        "--seed",
    ):
        assert opt in text, opt


def test_cli_trains_with_overrides(tmp_path):
    import yaml

    from hurricane_ode.cli import main

    cfg_file = tmp_path / "tiny.yaml"
    from hurricane_ode.config import config_to_dict

    cfg_file.write_text(yaml.safe_dump(config_to_dict(tiny_config(tmp_path / "unused"))))
    out = tmp_path / "run"
    rc = main(
        ["train", "--config", str(cfg_file), "--output-dir", str(out), "--max-steps", "2",
         "--quiet", "--set", "train.batch_size=4", "--set", "model.solver.method=rk4"]
    )  # fmt: skip
    assert rc == 0
    state = load_checkpoint(out)
    assert state["step"] == 2
    assert state["config"]["train"]["batch_size"] == 4
    assert state["config"]["model"]["solver"]["method"] == "rk4"
    assert math.isfinite(state["metrics"]["loss"])
    assert main(["train", "--config", str(cfg_file), "--set", "train.nope=1"]) == 2


CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_default_yaml_documents_every_default():
    import importlib.util

    import yaml

    from hurricane_ode.config import config_to_dict

    text = (CONFIGS / "default.yaml").read_text()
    assert yaml.safe_load(text) == config_to_dict(Config())
    spec = importlib.util.spec_from_file_location("make_default", CONFIGS / "make_default.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert text == mod.default_yaml(), (
        "regenerate: python configs/make_default.py > configs/default.yaml"
    )


@pytest.mark.parametrize("name", ["cam5_paper.yaml", "cpu_demo.yaml"])
def test_shipped_configs_load(name):
    from hurricane_ode.config import load_config

    cfg = load_config(CONFIGS / name)
    assert cfg.train.lr_decay == 0.99 and cfg.data.source == "tiles"
    if name == "cam5_paper.yaml":
        assert (cfg.train.epochs, cfg.train.batch_size, cfg.model.image_size) == (
            500,
            8,
            (128, 128),
        )


def test_bf16_autocast_path_runs_on_cpu(tmp_path):
    # amp defaults to off on CPU; forcing it exercises the autocast code used on GPUs.
    result = train(tiny_config(tmp_path, max_steps=2, amp=True), dataset=MemoryClips(4))
    assert math.isfinite(result.metrics["loss"]) and {"g_img", "g_seq", "d_img", "d_seq"} <= set(
        result.metrics
    )
    assert all(p.dtype == torch.float32 for p in result.model.parameters())


class StormClips(MemoryClips):
    """MemoryClips whose targets carry storm proximity: 1 within 3 pixels of the blob's peak."""

    def __getitem__(self, i: int) -> Clip:
        from dataclasses import replace

        clip = super().__getitem__(i)
        peak = clip.targets[:, 0].flatten(1).argmax(1)
        axis = torch.arange(SIZE, dtype=torch.float32)
        yy, xx = torch.meshgrid(axis, axis, indexing="ij")
        cy, cx = (peak // SIZE).float(), (peak % SIZE).float()
        near = ((yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2) <= 9.0
        return replace(clip, target_weights=near.float())


def test_storm_mask_prior_raises_the_mask_near_storms_in_training(tmp_path):
    data = StormClips(4, vary_by_epoch=False)
    means = {}
    for weight in (0.0, 1.0):
        cfg = tiny_config(tmp_path / str(weight), max_steps=30, lr=1e-2, batch_size=4)
        cfg.model.adversarial = False
        cfg.data.storm_sigma_km, cfg.loss.lambda_storm_mask = 100.0, weight
        model = train(cfg, dataset=data).model
        clip = data[0]
        with torch.no_grad():
            out = model(clip.inputs[None], clip.input_times[None], clip.target_times[None])
        w = clip.target_weights
        means[weight] = float((out.mask[0, :, 0] * w).sum() / w.sum())
        if weight:
            assert "storm_mask" in read_metrics(tmp_path / str(weight) / "metrics.csv")[-1]
    print(f"mask near the storm: {means}")
    assert 1 - means[1.0] < 0.25 * (1 - means[0.0])  # the other path's share near the storm, cut 4x


class MotionClips(MemoryClips):
    """MemoryClips whose targets carry the blob's motion from the last input (``target_motion``)."""

    def __getitem__(self, i: int) -> Clip:
        from dataclasses import replace

        clip = super().__getitem__(i)
        g = torch.Generator().manual_seed(self.seed * 7919 + i)  # moving_blob_clip's draws, epoch 0
        torch.rand(2, generator=g)
        vel = (torch.rand(2, generator=g) - 0.5) * 0.6  # (y, x) pixels per 3 h
        k = clip.targets.shape[0]
        peak = clip.targets[:, 0].flatten(1).argmax(1)
        axis = torch.arange(SIZE, dtype=torch.float32)
        yy, xx = torch.meshgrid(axis, axis, indexing="ij")
        cy, cx = (peak // SIZE).float(), (peak % SIZE).float()
        motion = torch.zeros(k, 3, SIZE, SIZE)
        steps = torch.arange(1, k + 1, dtype=torch.float32)[:, None, None]
        motion[:, 0], motion[:, 1] = -vel[1] * steps, -vel[0] * steps  # flow = -displacement
        motion[:, 2] = (((yy - cy[:, None, None]) ** 2 + (xx - cx[:, None, None]) ** 2) <= 9.0).float()
        return replace(clip, target_motion=motion)


def test_storm_flow_prior_carries_the_storm_with_its_track_in_training(tmp_path):
    data = MotionClips(4, vary_by_epoch=False)
    errors = {}
    for weight in (0.0, 1.0):
        cfg = tiny_config(tmp_path / str(weight), max_steps=30, lr=1e-2, batch_size=4)
        cfg.model.adversarial, cfg.model.warp_source = False, "reference"
        cfg.data.storm_sigma_km, cfg.loss.lambda_storm_flow = 100.0, weight
        model = train(cfg, dataset=data).model
        err = []
        for i in range(4):
            clip = data[i]
            with torch.no_grad():
                out = model(clip.inputs[None], clip.input_times[None], clip.target_times[None])
            m = clip.target_motion
            err.append(float(((out.flow[0] - m[:, :2]).abs().sum(1) * m[:, 2]).sum() / m[:, 2].sum()))
        errors[weight] = sum(err) / len(err)
        if weight:
            assert "storm_flow" in read_metrics(tmp_path / str(weight) / "metrics.csv")[-1]
    print(f"flow error near the storm, pixels: {errors}")
    assert errors[1.0] < 0.5 * errors[0.0]
