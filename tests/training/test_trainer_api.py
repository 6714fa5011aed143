"""The public Trainer: step / save / resume / fit with validation and best.pt; the LR floor."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from test_trainer import MemoryClips, tiny_config  # tests/training is on sys.path

from hurricane_ode.data.clips import collate_clips
from hurricane_ode.errors import ConfigError
from hurricane_ode.training.checkpoint import LAST, load_checkpoint
from hurricane_ode.training.runlog import DecayWithFloor
from hurricane_ode.training.trainer import BEST, Trainer


def rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_step_save_resume_continue_exactly(tmp_path):
    data = MemoryClips(8)
    batch = collate_clips([data[i] for i in range(2)])
    a = Trainer(tiny_config(tmp_path / "a"), data)
    terms = a.step(batch)
    assert {"loss", "recon", "diff", "g_img", "g_seq", "d_img", "d_seq"} <= set(terms)
    assert all(isinstance(v, torch.Tensor) and v.dim() == 0 for v in terms.values())
    assert a.global_step == 1
    path = a.save(tmp_path / "one.pt")
    assert path.exists() and load_checkpoint(path)["step"] == 1
    b = Trainer(tiny_config(tmp_path / "b"), data)
    b.resume(path)
    assert b.global_step == 1
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k])
    ta, tb = a.step(batch), b.step(batch)
    assert torch.equal(ta["loss"], tb["loss"])  # same weights, optimiser state, RNG
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        b.resume(tmp_path / "nothing.pt")


def test_fit_validates_logs_scores_and_keeps_best(tmp_path):
    calls = []
    scores = iter([3.0, 1.0, 2.0, 5.0])

    def validate(model):
        assert not model.training and not torch.is_grad_enabled()
        calls.append(1)
        return {"mse": next(scores), "other": 0.0}

    cfg = tiny_config(tmp_path, max_steps=6)
    result = Trainer(cfg, MemoryClips(8)).fit(validate=validate, validate_every=2)
    assert len(calls) == 3  # steps 2, 4, 6 (the end coincides with step 6)
    assert result.best == {"metric": "mse", "value": 1.0, "step": 4}
    best = load_checkpoint(tmp_path / BEST)
    assert best["step"] == 4 and (tmp_path / LAST).exists()
    r = rows(tmp_path / "metrics.csv")
    val = [x for x in r if x.get("val_mse")]
    assert [(int(x["step"]), float(x["val_mse"])) for x in val] == [(2, 3.0), (4, 1.0), (6, 2.0)]
    assert [int(x["step"]) for x in r if x["loss"]] == list(range(1, 7))


def test_validation_does_not_change_the_training_trajectory(tmp_path):
    plain = Trainer(tiny_config(tmp_path / "a", max_steps=4), MemoryClips(8)).fit()

    def noisy(model):
        torch.randn(100)  # consumes RNG: must be invisible to training
        return {"x": 1.0}

    checked = Trainer(tiny_config(tmp_path / "b", max_steps=4), MemoryClips(8)).fit(validate=noisy, validate_every=1)
    for k, v in plain.model.state_dict().items():
        assert torch.equal(v, checked.model.state_dict()[k]), k


def test_best_key_must_be_a_score(tmp_path):
    t = Trainer(tiny_config(tmp_path, max_steps=1), MemoryClips(8))
    with pytest.raises(ConfigError, match="'nope'"):
        t.fit(validate=lambda m: {"a": 1.0}, best_key="nope")


def test_lr_decays_per_epoch_with_a_floor():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adamax([p], lr=1.0)
    sched = DecayWithFloor(opt, gamma=0.5, min_factor=0.1)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([1.0, 0.5, 0.25, 0.125, 0.1, 0.1])
    # min_factor 0: plain exponential decay, as torch's ExponentialLR
    opt2 = torch.optim.Adamax([p], lr=1.0)
    s2 = DecayWithFloor(opt2, gamma=0.5, min_factor=0.0)
    for _ in range(5):
        opt2.step()
        s2.step()
    assert math.isclose(opt2.param_groups[0]["lr"], 0.5**5)


def test_trainer_lr_floor_from_config(tmp_path):
    # 8 clips / batch 2 = 4 steps per epoch; lr_decay 0.1 would give 1e-4 after two epochs
    cfg = tiny_config(tmp_path, max_steps=9, lr=1e-2, lr_decay=0.1, lr_min_factor=0.5)
    t = Trainer(cfg, MemoryClips(8))
    t.fit()
    assert t.epoch == 2 and t.opt.param_groups[0]["lr"] == pytest.approx(5e-3)
    r = rows(tmp_path / "metrics.csv")
    assert [float(x["lr"]) for x in r][:5] == pytest.approx([1e-2] * 4 + [5e-3])


def test_train_resume_from_a_checkpoint_starts_a_second_stage(tmp_path, caplog):
    from dataclasses import replace

    from hurricane_ode.training.trainer import train

    data = MemoryClips(8)
    first = train(tiny_config(tmp_path / "stage1", max_steps=2), dataset=data)
    assert first.step == 2
    cfg = tiny_config(tmp_path / "stage2", max_steps=3)
    cfg = replace(cfg, loss=replace(cfg.loss, lambda_grad=1.0))
    with caplog.at_level("WARNING"):
        second = train(cfg, dataset=data, resume=tmp_path / "stage1" / LAST)
    assert second.step == 3 and (tmp_path / "stage2" / LAST).exists()
    assert "loss.lambda_grad" in caplog.text  # the changed setting is said, not silently taken
    assert "grad" in rows(tmp_path / "stage2" / "metrics.csv")[-1]
    other = tiny_config(tmp_path / "stage3", max_steps=3)
    other = replace(other, model=replace(other.model, hidden_channels=16))
    with pytest.raises(Exception, match="model config differs"):
        train(other, dataset=data, resume=tmp_path / "stage1" / LAST)
    with pytest.raises(FileExistsError, match="overwrite"):
        train(cfg, dataset=data, resume=tmp_path / "stage1" / LAST)  # stage2 has its own run now
    # a model setting with no weights of its own (per-sample normalisation) may change
    normed = tiny_config(tmp_path / "stage4", max_steps=3)
    normed = replace(normed, model=replace(normed.model, instance_norm=True))
    assert train(normed, dataset=data, resume=tmp_path / "stage1" / LAST).step == 3


def test_resume_restores_the_dopri5_step_memories(tmp_path):
    """A dopri5 run resumed from a checkpoint takes the same next step as the uninterrupted run:
    the step sizes its solves carry between training steps are saved with it."""
    data = MemoryClips(8)
    batch = collate_clips([data[i] for i in range(2)])
    cfg_a, cfg_b = tiny_config(tmp_path / "a"), tiny_config(tmp_path / "b")
    cfg_a.model.solver.method = cfg_b.model.solver.method = "dopri5"
    a = Trainer(cfg_a, data)
    a.step(batch)
    assert a.model.step_memories["encoder"].dt is not None
    path = a.save(tmp_path / "one.pt")
    assert set(load_checkpoint(path)["step_memories"]) == {"encoder", "decoder"}
    b = Trainer(cfg_b, data)
    b.resume(path)
    ta, tb = a.step(batch), b.step(batch)
    assert torch.equal(ta["loss"], tb["loss"])


def test_init_from_takes_the_generator_weights_only_and_starts_afresh(tmp_path, caplog):
    """Fine-tuning a shipped model: weights from any checkpoint, step 0, fresh optimisers."""
    import subprocess
    import sys
    from dataclasses import replace
    from pathlib import Path

    from hurricane_ode.training.trainer import train

    data = MemoryClips(8)
    first = train(tiny_config(tmp_path / "stage1", max_steps=3), dataset=data)
    state = load_checkpoint(tmp_path / "stage1" / LAST)
    shipped = tmp_path / "shipped.pt"  # no optimiser, no discriminators
    script = Path(__file__).resolve().parents[2] / "scripts" / "ship_checkpoint.py"
    subprocess.run([sys.executable, str(script), str(tmp_path / "stage1" / LAST), str(shipped),
                    "--warp-interpolation", "bicubic"], check=True, capture_output=True)  # fmt: skip
    assert "optimizer" not in torch.load(shipped, weights_only=True)
    assert load_checkpoint(shipped)["config"]["model"]["warp_interpolation"] == "bicubic"
    assert state["config"]["model"]["warp_interpolation"] == "bilinear"
    cfg = tiny_config(tmp_path / "tune", max_steps=0)
    cfg = replace(cfg, model=replace(cfg.model, warp_interpolation="bicubic"))  # weight-free: allowed
    tuned = Trainer(cfg, data)
    tuned.init_from(shipped)
    assert tuned.global_step == 0 and not tuned.resumed
    for k, v in first.model.state_dict().items():
        assert torch.equal(v, tuned.model.state_dict()[k])
    assert not tuned.opt.state_dict()["state"]  # Adamax starts afresh
    after = train(replace(cfg, train=replace(cfg.train, max_steps=2)), dataset=data, init_from=shipped)
    assert after.step == 2 and load_checkpoint(tmp_path / "tune" / LAST)["step"] == 2
    other = tiny_config(tmp_path / "other")
    other = replace(other, model=replace(other.model, hidden_channels=16))
    with pytest.raises(Exception, match="model config differs"):
        Trainer(other, data).init_from(shipped)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        Trainer(tiny_config(tmp_path / "x"), data).init_from(tmp_path / "missing.pt")
    with pytest.raises(ConfigError, match="exclude"):
        train(cfg, dataset=data, init_from=shipped, resume=True)
    cli = subprocess.run([sys.executable, "-m", "hurricane_ode.cli", "train", "--init-from", str(shipped), "--resume"],
                         capture_output=True, text=True)  # fmt: skip
    assert cli.returncode != 0 and "--init-from" in cli.stderr
