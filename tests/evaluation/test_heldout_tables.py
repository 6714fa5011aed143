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
