"""scripts/heldout_tables.py: POD against the truth's, and the ceiling of a forecast without genesis."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "heldout_tables.py"


@pytest.fixture(scope="module")
def tables():
    spec = importlib.util.spec_from_file_location("heldout_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scores(pod: float, pod_init: float, n_true: int, n_true_init: int, leads) -> pd.DataFrame:
    return pd.DataFrame({"lead_time_h": [float(L) for L in leads], "pod": pod, "pod_init": pod_init,
                         "n_true": n_true, "n_true_init": n_true_init})


def test_pod_ratio_and_the_no_genesis_ceiling(tables):
    leads = tables.LEADS
    # 100 true fixes, 80 of storms present at the initial time; the truth's tracker finds 95 % of
    # those and 90 % overall, so a forecast that keeps every old storm and no new one reaches
    # 0.95 * 80 / 100 = 0.76 POD, 0.76 / 0.90 of the truth's
    whole = {"truth": scores(0.90, 0.95, 100, 80, leads), "m": scores(0.63, 0.75, 100, 80, leads)}
    rows = tables.pod_ratios(whole)
    assert set(rows) == {"m", "ceiling without genesis"}
    assert rows["m"] == ["0.70"] * len(leads)
    assert rows["ceiling without genesis"] == [f"{0.76 / 0.90:.2f}"] * len(leads)


def test_miss_rows_reads_the_score_files(tables, tmp_path):
    # one storm the truth's tracker finds at +24 h; the forecast followed it but 400 km off
    base = {"storm": ["s", "s"], "init_time": ["2005-08-03T00:00:00"] * 2, "lead_time_h": [3.0, 24.0],
            "false_alarm": [False, False], "at_init": [True, True]}
    for name, matched in (("truth", [True, True]), ("m", [True, False])):
        (tmp_path / f"scores_{name}").mkdir()
        pd.DataFrame({**base, "matched": matched}).to_csv(tmp_path / f"scores_{name}" / "track_matches.csv", index=False)
    pd.DataFrame({"storm": ["s", "s"], "init_time": base["init_time"], "lead_time_h": [3.0, 24.0],
                  "followed": [True, True], "track_error_km": [30.0, 400.0]}).to_csv(
        tmp_path / "scores_m" / "track_follow.csv", index=False)
    rows = tables.miss_rows(tmp_path, ["m", "truth"])
    assert list(rows) == ["m"]
    assert dict(zip(tables.MISS_HEADER, rows["m"])) == {
        "truth hits": "1", "born after the initial time": "0", "not followed": "0", "weak at the start": "0",
        "lost at the first lead": "0", "lost later": "0", "displaced": "1", "other": "0", "hits the truth missed": "0"}
    assert tables.miss_rows(tmp_path / "nowhere", ["m"]) == {}


def test_shared_rows_counts_the_avoidable_misses_the_baseline_shares(tables, tmp_path):
    # two storms at +24 h, both detectable at the start; "m" misses both (displaced), the baseline
    # misses only "a"; "weak" was never detectable and is not avoidable
    init = "2005-08-03T00:00:00"
    storms = ["a", "a", "b", "b", "weak", "weak"]
    base = {"storm": storms, "init_time": [init] * 6, "lead_time_h": [3.0, 24.0] * 3,
            "false_alarm": [False] * 6, "at_init": [True] * 6}
    hits = {"truth": [True, True, True, True, False, True], "m": [True, False, True, False, False, False],
            "advection_lk": [True, False, True, True, False, False]}
    for name, matched in hits.items():
        (tmp_path / f"scores_{name}").mkdir()
        pd.DataFrame({**base, "matched": matched}).to_csv(tmp_path / f"scores_{name}" / "track_matches.csv",
                                                           index=False)
        if name != "truth":
            pd.DataFrame({"storm": storms, "init_time": [init] * 6, "lead_time_h": [3.0, 24.0] * 3,
                          "followed": [True, True, True, True, False, False],
                          "track_error_km": [30.0, 400.0, 30.0, 350.0, None, None]}).to_csv(
                tmp_path / f"scores_{name}" / "track_follow.csv", index=False)
    assert tables.shared_rows(tmp_path, ["m", "advection_lk", "truth"]) == {"m": (2, 1)}
    assert tables.shared_rows(tmp_path, ["m"], reference="nowhere") == {}


def _scores_nc(path: Path, rmse_psl, leads) -> None:
    """A minimal `hurricane-ode score` output: PSL RMSE [init, lead] (Pa), U850/V850 1 m/s."""
    import numpy as np
    import xarray as xr

    n, k = rmse_psl.shape
    by_init = np.stack([np.ones((n, k)), np.ones((n, k)), rmse_psl], axis=-1)
    rmse = np.sqrt((by_init**2).mean(axis=0))
    inits = pd.date_range("2005-08-03", periods=n, freq="12h").strftime("%Y-%m-%dT%H:%M:%S")
    path.mkdir(parents=True)
    xr.Dataset({"rmse_by_init": (("init_time", "lead_time", "variable"), by_init),
                "rmse": (("lead_time", "variable"), rmse),
                "nmse": (("lead_time", "variable"), rmse**2 / np.array([4.0, 4.0, 2.5e5]))},
               coords={"init_time": list(inits), "lead_time": [float(L) for L in leads],
                       "variable": ["U850", "V850", "PSL"]}).to_netcdf(path / "scores.nc")


def test_significance_rows_give_each_checkpoint_a_verdict_against_each_baseline(tables, tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    leads = tables.LEADS
    base = 100.0 * (1 + rng.random((30, 1))) * (1 + np.arange(len(leads)))[None]
    m = base * 0.7 * (1 + 0.05 * rng.normal(size=base.shape))
    wobble = 1 + 0.01 * (-1.0) ** np.arange(30)[:, None]  # as good as m, better and worse by turns
    for prefix in ("scores", "scores600"):
        _scores_nc(tmp_path / f"{prefix}_m", m, leads)
        _scores_nc(tmp_path / f"{prefix}_advection_lk", base, leads)
        _scores_nc(tmp_path / f"{prefix}_persistence", m * wobble, leads)
    rows = tables.significance_rows(tmp_path, ["m", "persistence", "advection_lk"])
    assert rows["m vs advection_lk, PSL 600 km"] == ["better"] * len(leads)
    assert rows["m vs advection_lk, NMSE"] == ["better"] * len(leads)
    assert rows["m vs persistence, PSL 600 km"] == ["tie"] * len(leads)  # equal on average
    assert not any(k.startswith("advection_lk vs") for k in rows)  # baselines are not compared
