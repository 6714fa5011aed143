"""Experiments (hurricane_ode.evaluation): tiny end-to-end runs on a store made from the demo world."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hurricane_ode.evaluation import (
    ABLATION_ROWS,
    evaluate,
    experiment_config_from_dict,
    load_experiment_config,
    model_config_for,
    small_config,
)

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["persistence", "vid_ode", "convgru_decay"]


@pytest.fixture(scope="module")
def tiny_store(demo_world, tmp_path_factory) -> Path:
    from hurricane_ode.data.store import prepare_tiles

    out = tmp_path_factory.mktemp("eval_store") / "tiles.zarr"
    return prepare_tiles(demo_world.files, ["natl"], (32, 64), out, progress=False)


def tiny_values(store: Path) -> dict:
    return {
        "experiment": {"steps": 2, "sampling_rates": [1.0, 0.5], "max_eval_clips": 4,
                       "eval_batch_size": 4},  # fmt: skip
        "data": {"path": str(store), "basin": "natl", "train_fraction": 0.5, "clips_per_epoch": 4,
                 "sampling": {"n_inputs": 3, "n_targets": 2, "max_gap_h": 24.0}},  # fmt: skip
        "model": {"image_size": [32, 64], "hidden_channels": 4, "base_channels": 4,
                  "n_downsample": 1, "disc_base_channels": 4, "n_inputs": 3,
                  "solver": {"step_size": 0.5}},  # fmt: skip
        "train": {"batch_size": 2, "device": "cpu", "checkpoint_every": 0, "log_every": 1},
    }


@pytest.fixture(autouse=True)
def no_lpips_weights(monkeypatch, tmp_path):
    """Point LPIPS at a file that does not exist, so 'unavailable' is deterministic here."""
    monkeypatch.setenv("HURRICANE_ODE_LPIPS_BACKBONE", str(tmp_path / "absent" / "alexnet.pth"))


@pytest.fixture(scope="module")
def baselines_run(tiny_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("baselines")
    mp = pytest.MonkeyPatch()
    mp.setenv("HURRICANE_ODE_LPIPS_BACKBONE", str(out / "absent" / "alexnet.pth"))
    try:
        cfg = experiment_config_from_dict(tiny_values(tiny_store))
        table = evaluate("baselines", cfg, models=MODELS, output_dir=out, seed=3, progress=False)
    finally:
        mp.undo()
    return out, cfg, table


def test_baselines_writes_tables_and_record(baselines_run):
    out, _, table = baselines_run
    csv = pd.read_csv(out / "baselines.csv")
    assert list(csv["model"]) == MODELS
    pd.testing.assert_frame_equal(csv, table, check_dtype=False)
    for col in ("mse", "mse_x1e3", "mse_U850", "mse_phys_PSL", "rmse_phys_U850", "psnr", "ssim"):
        assert np.isfinite(csv[col]).all(), col
    assert np.allclose(csv["mse_x1e3"], csv["mse"] * 1e3)
    assert csv["lpips"].isna().all() and set(csv["lpips_weights"]) == {"unavailable"}
    for col in ("track_error_km", "detection_rate", "psl_mae_hpa", "wind_mae_ms", "n_true"):
        assert col in csv.columns
    assert (csv["n_true"] > 0).all()  # the demo world has storms in the natl tile
    # storms followed from the last input: persistence keeps every one, at the distance it moved
    pers = csv.set_index("model").loc["persistence"]
    assert pers["n_follow_cases"] > 0 and pers["follow_kept"] == 1.0
    assert pers["follow_track_error_km"] == pytest.approx(pers["follow_persistence_km"], rel=1e-9)
    assert pers["follow_persistence_km"] > 0
    by_lead = pd.read_csv(out / "baselines_by_lead.csv")
    assert len(by_lead) == len(MODELS) * 2
    assert sorted(set(by_lead["lead_time_h"])) == [3.0, 6.0]
    # the overall MSE is the mean over the (equally weighted) lead times
    per_model = by_lead.groupby("model", sort=False)["mse"].mean()
    assert np.allclose(per_model[MODELS].to_numpy(), csv["mse"].to_numpy())

    rec = json.loads((out / "baselines.json").read_text())
    assert rec["experiment"] == "baselines" and rec["seed"] == 3
    assert rec["hurricane_ode_version"] and "commit" in rec["git"] and rec["wall_time_s"] > 0
    assert rec["lpips_weights"] == "unavailable"
    assert rec["lpips"].startswith("lpips: unavailable (missing ") and "alexnet.pth" in rec["lpips"]
    assert rec["config"]["train"]["seed"] == 3
    assert rec["models"]["persistence"]["steps"] == 0
    assert rec["models"]["vid_ode"]["steps"] == 2 and rec["models"]["vid_ode"]["source"] == "trained"
    assert (out / "models" / "vid_ode" / "last.pt").exists()
    assert not (out / "models" / "persistence").exists()  # nothing to train
    again = load_experiment_config(out / "baselines_config.yaml")  # the record re-runs
    assert again.base.train.seed == 3 and again.experiment.steps == 2


def test_persistence_mse_matches_direct_computation(baselines_run, tiny_store):
    """The scoring pipeline's MSE for persistence equals MSE(last input, targets) computed here."""
    from hurricane_ode.data.tile_dataset import TileClipDataset

    out, cfg, table = baselines_run
    ds = TileClipDataset(tiny_store, "natl", sampling=cfg.base.data.sampling, split="test",
                         train_fraction=0.5, clips_per_epoch=None, seed=3)  # fmt: skip
    idx = np.unique(np.round(np.linspace(0, len(ds) - 1, 4)).astype(int)) if len(ds) > 4 else range(len(ds))
    errs = [((ds[i].targets - ds[i].inputs[-1]) ** 2).mean().item() for i in idx]
    got = float(table.loc[table["model"] == "persistence", "mse"].iloc[0])
    assert got == pytest.approx(float(np.mean(errs)), rel=1e-5)
    # a perfect forecast would score 0 and trained models are not identical to persistence
    assert len(set(np.round(table["mse"], 8))) == len(MODELS)


def test_sampling_rate_reuses_trained_models(baselines_run):
    out, cfg, _ = baselines_run
    table = evaluate("sampling-rate", cfg, models=MODELS, output_dir=out, seed=3, progress=False)
    csv = pd.read_csv(out / "sampling_rate.csv")
    assert len(csv) == len(table) == len(MODELS) * 2
    assert set(zip(csv["model"], csv["sampling_rate"])) == {(m, r) for m in MODELS for r in (1.0, 0.5)}
    for col in ("mse", "lpips", "ssim", "psnr", "mean_input_gap_h"):
        assert col in csv.columns
    assert np.isfinite(csv[["mse", "ssim", "psnr"]].to_numpy()).all()
    gaps = csv.groupby("sampling_rate")["mean_input_gap_h"].first()
    assert gaps[1.0] == pytest.approx(3.0) and gaps[0.5] > gaps[1.0]  # sparser input, wider gaps
    rec = json.loads((out / "sampling_rate.json").read_text())
    assert rec["models"]["vid_ode"]["source"] == "cached"
    assert rec["models"]["vid_ode"]["train_time_s"] == 0
    # same trained weights, same clips at the training rate -> same numbers as the baselines run
    base = pd.read_csv(out / "baselines.csv").set_index("model")
    # (baselines used sampling_rate 0.5 with the same seed and clips)
    at_half = csv[csv["sampling_rate"] == 0.5].set_index("model")
    assert np.allclose(at_half.loc[MODELS, "mse"], base.loc[MODELS, "mse"], rtol=1e-6)


def test_cached_model_with_other_config_is_refused(baselines_run):
    out, cfg, _ = baselines_run
    other = experiment_config_from_dict({**_as_values(cfg), "loss": {"lambda_diff": 0.5}})
    with pytest.raises(ValueError, match=r"models/vid_ode.*different config.*loss.lambda_diff"):
        evaluate("baselines", other, models=["vid_ode"], output_dir=out, progress=False)


def _as_values(cfg) -> dict:
    from hurricane_ode.evaluation.settings import experiment_config_to_dict

    return experiment_config_to_dict(cfg)


def test_lpips_with_injected_test_weights_is_labelled_test(tiny_store, tmp_path):
    from hurricane_ode.metrics.lpips import LPIPS, make_test_backbone_state_dict

    module = LPIPS(backbone_state_dict=make_test_backbone_state_dict(1), value_range=(-3.0, 3.0),
                   backbone_label="test weights")  # fmt: skip
    cfg = experiment_config_from_dict(tiny_values(tiny_store))
    table = evaluate("baselines", cfg, models=["persistence"], output_dir=tmp_path,
                     progress=False, lpips=module)  # fmt: skip
    assert np.isfinite(table["lpips"]).all() and (table["lpips"] > 0).all()
    assert set(table["lpips_weights"]) == {"test"}
    rec = json.loads((tmp_path / "baselines.json").read_text())
    assert rec["lpips_weights"] == "test" and "TEST WEIGHTS" in rec["lpips"]


def test_ablation_rows_are_table4_switches():
    base = small_config().base
    expect = {  # (use_ode_encoder, adversarial, use_warp, use_mask)
        "A": (False, False, False, False), "B": (True, False, False, False),
        "C": (True, True, False, False), "D": (True, True, True, False), "E": (True, True, True, True),
    }  # fmt: skip
    assert list(ABLATION_ROWS) == list(expect)
    for row, flags in expect.items():
        from hurricane_ode.evaluation import ablation_switches

        m = model_config_for(base, "vid_ode", ablation_switches(row)).model
        assert m.name == "vid_ode"
        assert (m.use_ode_encoder, m.adversarial, m.use_warp, m.use_mask) == flags, row
    assert base.model.use_warp and base.model.use_ode_encoder  # the base is not modified
    # baselines outside the Vid-ODE family are trained without discriminators
    assert model_config_for(base, "convgru_decay").model.adversarial is False
    assert model_config_for(base, "vid_ode").model.adversarial is True


def test_ablation_experiment_trains_each_row(tiny_store, tmp_path):
    values = tiny_values(tiny_store)
    values["experiment"].update(steps=1, max_eval_clips=2)
    table = evaluate("ablation", experiment_config_from_dict(values), output_dir=tmp_path, progress=False)
    assert list(table["row"]) == list("ABCDE")
    assert list(table["use_warp"]) == [False, False, False, True, True]
    assert np.isfinite(table["mse"]).all()
    for row in "ABCDE":
        saved = yaml.safe_load((tmp_path / "models" / f"ablation_{row}" / "config.yaml").read_text())
        assert saved["model"]["use_mask"] is (row == "E")
        assert saved["model"]["use_ode_encoder"] is (row != "A")


def test_small_yaml_is_the_default_and_paper_yaml_is_paper_scale():
    assert load_experiment_config(ROOT / "configs/experiments/small.yaml") == small_config()
    paper = load_experiment_config(ROOT / "configs/experiments/paper.yaml")
    assert paper.base.model.image_size == (128, 128) and paper.base.train.epochs == 500
    assert paper.base.train.batch_size == 8 and paper.base.data.sampling.max_gap_h == 48.0
    assert paper.experiment.lpips == "required"


def test_bad_settings_name_the_key(tmp_path):
    with pytest.raises(KeyError, match="experiment.*stepz|stepz"):
        experiment_config_from_dict({"experiment": {"stepz": 3}})
    with pytest.raises(ValueError, match="sampling_rates"):
        experiment_config_from_dict({"experiment": {"sampling_rates": [0.0]}})
    with pytest.raises(ValueError, match="experiment must be one of"):
        evaluate("table5", output_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown.*no_such_model"):
        evaluate("baselines", small_config(), models=["no_such_model"], output_dir=tmp_path,
                 progress=False)  # fmt: skip


def test_top_level_names_stay_functions_after_submodule_imports():
    import hurricane_ode
    import hurricane_ode.evaluation  # noqa: F401
    import hurricane_ode.forecasting  # noqa: F401
    from hurricane_ode.evaluation import evaluate as ev
    from hurricane_ode.forecasting import forecast as fc

    assert hurricane_ode.evaluate is ev and hurricane_ode.forecast is fc


def test_cli_runs_and_prints_table(tiny_store, tmp_path, capsys):
    from hurricane_ode.cli import main

    cfg_file = tmp_path / "exp.yaml"
    cfg_file.write_text(yaml.safe_dump(tiny_values(tiny_store)))
    rc = main(["evaluate", "--experiment", "baselines", "--config", str(cfg_file), "--models",
               "persistence,advection", "--output-dir", str(tmp_path / "out"), "--seed", "1",
               "--quiet"])  # fmt: skip
    assert rc == 0
    printed = capsys.readouterr().out
    assert "persistence" in printed and "advection" in printed and "mse_x1e3" in printed
    assert (tmp_path / "out" / "baselines.csv").exists()
    rc = main(["evaluate", "--models", "nope", "--output-dir", str(tmp_path / "o2"), "--quiet"])
    assert rc == 2 and "unknown model(s) ['nope']" in capsys.readouterr().err


def test_cli_help_documents_every_option():
    from hurricane_ode.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["evaluate"]
    for action in sub._actions:
        assert action.help, action.dest
    opts = {s for a in sub._actions for s in a.option_strings}
    assert {"--experiment", "--config", "--models", "--output-dir", "--seed", "--steps", "--quiet"} <= opts
