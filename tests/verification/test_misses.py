"""hurricane_ode.verification.misses: each storm the truth's tracker finds and a forecast misses, by cause."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hurricane_ode.verification.misses import MISS_CAUSES, classify_misses, count_misses

INIT = "2005-08-03T00:00:00"


def matches(rows: list[tuple[str, float, bool, bool]]) -> pd.DataFrame:
    """``(storm, lead, matched, at_init)`` rows of a track_matches.csv, plus one false alarm."""
    df = pd.DataFrame(rows, columns=["storm", "lead_time_h", "matched", "at_init"])
    df["false_alarm"] = False
    df["init_time"] = INIT
    fa = pd.DataFrame({"storm": [np.nan], "lead_time_h": [24.0], "matched": [False], "at_init": [False],
                       "false_alarm": [True], "init_time": [INIT]})
    return pd.concat([df, fa], ignore_index=True)


def follow(rows: list[tuple[str, float, bool, float]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["storm", "lead_time_h", "followed", "track_error_km"])
    df["init_time"] = INIT
    return df


@pytest.fixture()
def case():
    # (storm, lead, truth matched, at_init) for the truth; (storm, lead, forecast matched) for the forecast
    truth = matches([
        ("gen", 3, False, False), ("gen", 24, True, False),
        ("edge", 3, True, True), ("edge", 24, True, True),
        ("weak", 3, False, True), ("weak", 24, True, True),
        ("lost1", 3, True, True), ("lost1", 24, True, True),
        ("later", 3, True, True), ("later", 24, True, True),
        ("disp", 3, True, True), ("disp", 24, True, True),
        ("other", 3, True, True), ("other", 24, True, True),
        ("hit", 3, True, True), ("hit", 24, True, True),
        ("extra", 3, True, True), ("extra", 24, False, True),
    ])
    forecast_hits = {"hit", "extra"}
    fc = truth.copy()
    fc.loc[~fc["false_alarm"], "matched"] = [s in forecast_hits or L == 3 and s in {"later", "disp", "other", "edge"}
                                             for s, L in zip(fc.loc[~fc["false_alarm"], "storm"],
                                                             fc.loc[~fc["false_alarm"], "lead_time_h"])]
    fo = follow([
        ("weak", 3, False, np.nan), ("weak", 24, False, np.nan),
        ("lost1", 3, False, np.nan), ("lost1", 24, False, np.nan),
        ("later", 3, True, 40.0), ("later", 24, False, np.nan),
        ("disp", 3, True, 40.0), ("disp", 24, True, 420.0),
        ("other", 3, True, 40.0), ("other", 24, True, 120.0),
        ("hit", 3, True, 20.0), ("hit", 24, True, 90.0),
        ("extra", 3, True, 20.0), ("extra", 24, True, 90.0),
    ])
    return truth, fc, fo


def test_each_miss_gets_its_cause(case):
    truth, fc, fo = case
    m = classify_misses(truth, fc, fo)
    at24 = dict(zip(m[m["lead_time_h"] == 24]["storm"], m[m["lead_time_h"] == 24]["cause"]))
    assert at24 == {"gen": "born after the initial time", "edge": "not followed", "weak": "weak at the start",
                    "lost1": "lost at the first lead", "later": "lost later", "disp": "displaced", "other": "other"}
    # at the first lead the forecast missed only "weak" (not a truth hit: no miss) and "lost1"
    assert dict(zip(m[m["lead_time_h"] == 3]["storm"], m[m["lead_time_h"] == 3]["cause"])) == {
        "lost1": "lost at the first lead"}


def test_counts_add_up_to_the_forecast_hits(case):
    truth, fc, fo = case
    c = count_misses(truth, fc, fo, 24.0)
    assert c["truth hits"] == 8 and c["hits the truth missed"] == 1
    assert [c[k] for k in MISS_CAUSES] == [1, 1, 1, 1, 1, 1, 1]
    hits = int(fc[(fc["lead_time_h"] == 24) & ~fc["false_alarm"]]["matched"].sum())
    assert c["truth hits"] - sum(c[k] for k in MISS_CAUSES) + c["hits the truth missed"] == hits


def test_the_hit_radius_decides_displaced_or_other(case):
    truth, fc, fo = case
    m = classify_misses(truth, fc, fo, hit_km=500.0)
    assert m[(m["storm"] == "disp") & (m["lead_time_h"] == 24)]["cause"].item() == "other"


def test_a_file_without_the_columns_is_named(case):
    truth, fc, fo = case
    with pytest.raises(ValueError, match="follow lacks column"):
        classify_misses(truth, fc, fo.drop(columns="followed"))
