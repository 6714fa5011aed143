"""Video through the same core: configs, `train --dataset/--path`, the `video` experiment table,
frames at arbitrary times, and no climate/video branching inside models/ or training/."""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from hurricane_ode.cli import main
from hurricane_ode.config import Config, config_from_dict, config_to_dict, load_config
from hurricane_ode.data.video import PAPER_EXTRAPOLATION, PAPER_INTERPOLATION
from hurricane_ode.evaluation.video import VIDEO_METRICS, VIDEO_TASKS, evaluate_video, paper_table

ROOT = Path(__file__).resolve().parents[1]
VIDEO_CONFIGS = sorted((ROOT / "configs" / "video").glob("*.yaml"))


def tiny(task: str, size: int = 16, **data: object) -> Config:
    """A few-second bouncing-balls config: 3 -> 3 extrapolation or inputs 0, 2, 4 -> 1, 3."""
    interp = task == "interpolation"
    return config_from_dict({
        "data": {"source": "bouncing_balls", "image_size": [size, size], "channels": 1, "n_videos": 4,
                 "sampling": {"task": task, "n_inputs": 3, "n_targets": 2 if interp else 3,
                              "sampling_rate": 0.5 if interp else 1.0, "irregular": False,
                              "frame_interval_h": 1.0, "max_gap_h": 4.0}, **data},
        "model": {"in_channels": 1, "image_size": [size, size], "hidden_channels": 4,
                  "base_channels": 4, "n_downsample": 1, "n_inputs": 3, "time_scale": 1.0,
                  "adversarial": False, "solver": {"method": "euler", "step_size": 1.0}},
        "train": {"batch_size": 2, "max_steps": 2, "device": "cpu", "progress": False,
                  "checkpoint_every": 100, "log_every": 1},
    })  # fmt: skip


# ----------------------------------------------------------------------------- configs
@pytest.mark.parametrize("path", VIDEO_CONFIGS, ids=lambda p: p.name)
def test_video_configs_load_and_match_their_data(path):
    cfg = load_config(path)
    s = cfg.data.sampling
    assert cfg.model.time_scale == 1.0, "clip times are frame units: one model time unit per frame"
    assert cfg.model.in_channels == cfg.data.channels
    assert list(cfg.model.image_size) == list(cfg.data.image_size)
    assert cfg.model.n_inputs == s.n_inputs
    if cfg.data.source == "bouncing_balls":
        assert list(cfg.model.image_size) == [32, 32] and cfg.model.hidden_channels <= 32  # CPU-small
    else:
        assert list(cfg.model.image_size) == [128, 128] and cfg.data.path
        preset = PAPER_INTERPOLATION if s.task == "interpolation" else PAPER_EXTRAPOLATION
        for key in ("task", "n_inputs", "n_targets", "sampling_rate", "irregular"):
            assert getattr(s, key) == getattr(preset, key), key


def test_paper_task_configs_exist():
    names = {p.stem for p in VIDEO_CONFIGS}
    assert {"bouncing_balls", "kth_extrapolation", "kth_interpolation", "moving_gif", "penn_action"} <= names
    bb = load_config(ROOT / "configs/video/bouncing_balls.yaml").data.sampling
    assert (bb.n_inputs, bb.n_targets, bb.task) == (10, 10, "extrapolation")


# ----------------------------------------------------------------------------- evaluate
def test_cli_video_experiment_trains_scores_and_writes_the_table(tmp_path, capsys):
    files = []
    for task in ("extrapolation", "interpolation"):
        f = tmp_path / f"bb_{task}.yaml"
        f.write_text(yaml.safe_dump(config_to_dict(tiny(task))))
        files += ["--config", str(f)]
    out = tmp_path / "eval"
    rc = main(["evaluate", "--experiment", "video", *files, "--output-dir", str(out), "--seed", "3", "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "interpolation" in printed and "extrapolation" in printed and "PSNR (dB)" in printed

    table = pd.read_csv(out / "video.csv")
    assert list(table.columns) == ["dataset", "model"] + [f"{t}_{m}" for t in VIDEO_TASKS for m in VIDEO_METRICS]
    assert table[["dataset", "model"]].values.tolist() == [["bouncing_balls", "vid_ode"]]
    for t in VIDEO_TASKS:
        assert -1 <= table[f"{t}_ssim"].iloc[0] <= 1
        assert 0 < table[f"{t}_psnr"].iloc[0] < 100
        assert math.isnan(table[f"{t}_lpips"].iloc[0])  # 16 px frames, no real weights: NaN, not made up
    long = pd.read_csv(out / "video_long.csv")
    assert sorted(long["task"]) == ["extrapolation", "interpolation"]
    assert (long["steps"] == 2).all() and (long["seed"] == 3).all()
    by_lead = pd.read_csv(out / "video_by_lead.csv")
    assert len(by_lead) == 3 + 2  # one row per target frame of each task
    rec = json.loads((out / "video.json").read_text())
    assert rec["seed"] == 3 and rec["hurricane_ode_version"]
    assert all("unavailable" in note for note in rec["lpips"].values())
    assert {c["task"] for c in rec["configs"]} == set(VIDEO_TASKS)
    assert rec["configs"][0]["config"]["train"]["seed"] == 3
    # same seed, same scores: the cached models are reused and the test clips are fixed
    again = evaluate_video([tmp_path / "bb_extrapolation.yaml"], output_dir=out, seed=3, progress=False)
    assert again["extrapolation_psnr"].iloc[0] == pytest.approx(table["extrapolation_psnr"].iloc[0], rel=1e-6)
    assert math.isnan(again["interpolation_psnr"].iloc[0])  # not run this time


def test_lpips_column_filled_with_injected_module_and_labelled_test(tmp_path):
    from hurricane_ode.metrics.lpips import LPIPS

    lp = LPIPS(allow_untrained_backbone_for_testing=True, value_range=(0.0, 1.0))
    cfg = tiny("extrapolation", size=32)
    cfg.train.max_steps = 1
    table = evaluate_video(cfg, output_dir=tmp_path, progress=False, lpips=lp)
    assert np.isfinite(table["extrapolation_lpips"].iloc[0])
    assert pd.read_csv(tmp_path / "video_long.csv")["lpips_weights"].tolist() == ["test"]


def test_paper_table_layout_and_missing_tasks():
    long = pd.DataFrame([
        {"dataset": "kth", "model": "vid_ode", "task": "extrapolation", "ssim": 0.8, "lpips": 0.1, "psnr": 28.0},
        {"dataset": "kth", "model": "vid_ode", "task": "interpolation", "ssim": 0.9, "lpips": 0.05, "psnr": 31.0},
        {"dataset": "gif", "model": "vid_ode", "task": "extrapolation", "ssim": 0.7, "lpips": 0.2, "psnr": 16.0},
    ])  # fmt: skip
    t = paper_table(long)
    assert t.columns[2:].tolist() == [
        "interpolation_ssim", "interpolation_lpips", "interpolation_psnr",
        "extrapolation_ssim", "extrapolation_lpips", "extrapolation_psnr",
    ]  # fmt: skip
    kth = t[t.dataset == "kth"].iloc[0]
    assert (kth.interpolation_psnr, kth.extrapolation_psnr) == (31.0, 28.0)
    assert math.isnan(t[t.dataset == "gif"].iloc[0].interpolation_ssim)


def test_bad_video_experiment_inputs_fail_before_training(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="given twice"):
        evaluate_video([tiny("extrapolation"), tiny("extrapolation")], output_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="unknown"):
        evaluate_video(tiny("extrapolation"), models=["no_such_model"], output_dir=tmp_path, progress=False)
    bad = tiny("extrapolation")
    bad.model.image_size = (32, 32)
    with pytest.raises(ValueError, match="model.image_size"):
        evaluate_video(bad, output_dir=tmp_path, progress=False)
    assert not (tmp_path / "models").exists()
    # without --config and with nothing to score (no shipped checkpoint, no dataset on disk): an error
    from hurricane_ode.evaluation import video_checkpoints

    monkeypatch.setattr(video_checkpoints, "_RESOURCES", tmp_path / "none")
    monkeypatch.setattr(video_checkpoints, "_ROOT_CONFIGS", tmp_path / "none")
    assert main(["evaluate", "--experiment", "video", "--output-dir", str(tmp_path)]) == 2
    with pytest.raises(ValueError, match="checkpoints: no config"):
        evaluate_video(tiny("extrapolation"), output_dir=tmp_path, progress=False,
                       checkpoints={"kth/extrapolation": tmp_path / "x.pt"})  # fmt: skip


def test_evaluate_video_without_config_scores_the_shipped_checkpoints(tmp_path, capsys):
    """Tables 1-3 layout for what is present: the shipped bouncing-balls models and their references."""
    rc = main(["evaluate", "--experiment", "video", "--output-dir", str(tmp_path), "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "PSNR (dB)" in printed and "lpips: unavailable" in printed and "per predicted frame" in printed
    table = pd.read_csv(tmp_path / "video.csv").set_index("model")
    assert set(table.index) == {"vid_ode", "persistence", "linear_blend"}
    vid, copy = table.loc["vid_ode"], table.loc["persistence"]
    assert vid.extrapolation_psnr > copy.extrapolation_psnr + 3.0  # the target, on 50 test videos
    assert vid.extrapolation_ssim > copy.extrapolation_ssim
    assert math.isnan(table.loc["linear_blend"].extrapolation_psnr)  # cross-fade: interpolation only
    long = pd.read_csv(tmp_path / "video_long.csv")
    ours = long[long.model == "vid_ode"]
    assert (ours.train_source == "checkpoint").all() and (ours.steps > 0).all()
    assert not (tmp_path / "models").exists()  # nothing trained
    lead = pd.read_csv(tmp_path / "video_by_lead.csv")
    ex = lead[lead.task == "extrapolation"].pivot(index="target_index", columns="model", values="psnr")
    assert len(ex) == 10 and (ex.vid_ode > ex.persistence).all()  # above copy-last at every frame
    it = lead[lead.task == "interpolation"].pivot(index="target_time", columns="model", values="psnr")
    assert it.index.tolist() == [1.0, 3.0, 5.0, 7.0] and (it.vid_ode > it.persistence).all()
    assert (it.vid_ode > it.linear_blend).all()  # the interpolation target: every in-between frame
    its = lead[lead.task == "interpolation"].pivot(index="target_time", columns="model", values="ssim")
    assert (its.vid_ode > its.linear_blend).all()


def test_supervised_interpolation_gets_its_own_row(tmp_path):
    cfg = tiny("interpolation", interpolation_protocol="supervised")
    table = evaluate_video([cfg, tiny("interpolation")], output_dir=tmp_path, progress=False)
    assert table.model.tolist() == ["vid_ode (supervised)", "vid_ode"]
    assert table.interpolation_psnr.notna().all() and table.extrapolation_psnr.isna().all()
    assert sorted(pd.read_csv(tmp_path / "video_long.csv").task) == ["interpolation", "interpolation_supervised"]


# ----------------------------------------------------------------------------- train CLI
def test_train_cli_dataset_video_and_path_override_the_config(tmp_path):
    iio = pytest.importorskip("imageio.v3")
    root = tmp_path / "videos"
    for split, names in (("train", ["a", "b"]), ("test", ["c"])):
        for name in names:
            folder = root / split / name
            folder.mkdir(parents=True)
            for t in range(8):
                frame = np.full((20, 24, 3), 30, np.uint8)
                frame[6:12, 2 * t : 2 * t + 6] = (255, 0, 0)
                iio.imwrite(folder / f"{t}.png", frame)
    cfg = tiny("extrapolation", channels=3, augment=False, clips_per_epoch=4)
    cfg.model.in_channels = 3
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(yaml.safe_dump(config_to_dict(cfg)))
    run = tmp_path / "run"
    rc = main(["train", "--config", str(cfg_file), "--dataset", "video", "--path", str(root),
               "--output-dir", str(run), "--max-steps", "1", "--quiet"])  # fmt: skip
    assert rc == 0 and (run / "last.pt").exists()
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["data"]["source"] == "video_folder" and saved["data"]["path"] == str(root)
    assert main(["train", "--dataset", "no_such_source", "--output-dir", str(tmp_path / "x")]) == 2


def test_train_cli_validates_interpolation_on_held_out_videos_and_keeps_best(tmp_path):
    """Irregular training inputs, validation on the protocol's regular inputs (in-between frames)."""
    from hurricane_ode.training.checkpoint import load_checkpoint

    cfg = tiny("interpolation", validation_irregular=False, validation_windows=4)
    cfg.data.sampling.irregular = True
    cfg.train.validate_every, cfg.train.best_metric = 1, "psnr_gap"
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(yaml.safe_dump(config_to_dict(cfg)))
    run = tmp_path / "run"
    assert main(["train", "--config", str(cfg_file), "--output-dir", str(run), "--max-steps", "2", "--quiet"]) == 0
    rows = pd.read_csv(run / "metrics.csv")
    val = rows[rows.val_psnr.notna()]
    assert val.step.tolist() == [1, 2] and {"val_psnr_t1", "val_psnr_t3", "val_ref_psnr"} <= set(rows)
    best = load_checkpoint(run / "best.pt")
    assert best["best"]["metric"] == "psnr_gap" and best["best"]["value"] == pytest.approx(val.val_psnr_gap.min())


# ----------------------------------------------------------------------------- frame strip
def test_frames_at_arbitrary_times_and_strip_png(tmp_path):
    from hurricane_ode.data.sources import build_dataset
    from hurricane_ode.evaluation.video_strip import predict_at_times, save_frame_strip
    from hurricane_ode.models.base import build_model

    cfg = tiny("interpolation")
    torch.manual_seed(0)
    model = build_model(cfg.model)
    clip = build_dataset(cfg.data, "test", 0)[0]
    times = [2.0, 2.25, 2.5, 2.75, 3.0]
    frames = predict_at_times(model, clip, times)
    assert frames.shape == (5, 1, 16, 16) and 0 <= frames.min() and frames.max() <= 1
    # the t = 3 frame does not depend on which in-between times were also asked for
    alone = predict_at_times(model, clip, [2.0, 3.0])
    assert not torch.allclose(frames[2], frames[4])
    torch.testing.assert_close(alone[0], frames[0])
    with pytest.raises(ValueError, match="ascending"):
        predict_at_times(model, clip, [3.0, 2.0])
    pytest.importorskip("matplotlib")
    png = save_frame_strip({"truth": {0.0: clip.inputs[0]}, "model": dict(zip(times, frames))},
                           tmp_path / "strip.png", highlight=[2.25])  # fmt: skip
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*tmp*"))


# ----------------------------------------------------------------------------- no domain branching
DOMAIN_WORDS = re.compile(
    r"video|climate|u850|v850|psl|bouncing|cam5|kth|penn|gif|cyclone|hurricane(?!_ode)|basin|tile|rgb",
    re.IGNORECASE,
)


def domain_words_in_code(source: str) -> list[tuple[int, str]]:
    """(line, text) of identifiers, imports and non-docstring string literals naming a data domain.

    Comments are not in the AST; docstrings (string-expression statements) are skipped;
    everything else (names, attributes, arguments, keywords, imports, string constants and
    f-string parts) is checked, so ``if source == "video":`` or ``cfg.is_climate`` are found.
    """
    tree = ast.parse(source)
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            words = [node.value]
        elif isinstance(node, ast.Name):
            words = [node.id]
        elif isinstance(node, ast.Attribute):
            words = [node.attr]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            words = [node.name]
        elif isinstance(node, ast.arg):
            words = [node.arg]
        elif isinstance(node, ast.keyword):
            words = [node.arg or ""]
        elif isinstance(node, ast.Import | ast.ImportFrom):
            words = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
        else:
            continue
        hits += [(getattr(node, "lineno", 0), w) for w in words if DOMAIN_WORDS.search(w)]
    return hits


def test_domain_word_scanner_finds_branches_and_ignores_prose():
    planted = '''
"""Module about climate video."""
import hurricane_ode.models.base  # video comment
def f(x, cfg):
    """Works for climate and video alike."""
    # if cfg.source == "video": nothing, a comment
    if cfg.data.source == "bouncing_balls":
        return x
    label = f"{x} U850"
    return cfg.is_climate
'''
    found = sorted(w for _, w in domain_words_in_code(planted))
    assert found == [" U850", "bouncing_balls", "is_climate"]


@pytest.mark.parametrize("package", ["models", "training"])
def test_core_never_branches_on_climate_vs_video(package):
    files = sorted((ROOT / "hurricane_ode" / package).rglob("*.py"))
    assert files
    hits = {str(p.relative_to(ROOT)): domain_words_in_code(p.read_text()) for p in files}
    hits = {k: v for k, v in hits.items() if v}
    assert not hits, f"domain-specific names in the channel-agnostic core: {hits}"
