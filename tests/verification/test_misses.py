"""hurricane_ode.verification.misses: each storm the truth's tracker finds and a forecast misses, by cause."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hurricane_ode.verification.misses import (
    MISS_CAUSES,
    classify_misses,
    count_misses,
    detected_at_init,
    reachable_fraction,
    shared_misses,
)

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


def _with_times(df: pd.DataFrame) -> pd.DataFrame:
    """Add the ``time`` column of track_matches.csv (valid time = initial time + lead)."""
    init = pd.to_datetime(df["init_time"])
    return df.assign(time=(init + pd.to_timedelta(df["lead_time_h"].astype(float), unit="h"))
                     .dt.strftime("%Y-%m-%dT%H:%M:%S"))


def test_a_storm_the_truth_cannot_see_in_the_initial_fields_is_weak_not_lost():
    # two initial times 12 h apart; "young" is found by the truth's tracker at +3 h of the second
    # but not at its initial time (the first initial time's +12 h): it deepened across the threshold
    first, second = "2005-08-03T00:00:00", "2005-08-03T12:00:00"
    rows = [("young", first, 12.0, False), ("young", second, 3.0, True), ("young", second, 24.0, True),
            ("old", first, 12.0, True), ("old", second, 3.0, True), ("old", second, 24.0, True)]
    truth = _with_times(pd.DataFrame(rows, columns=["storm", "init_time", "lead_time_h", "matched"]).assign(
        false_alarm=False, at_init=True))
    fc = truth.assign(matched=False)
    fo = pd.DataFrame({"storm": ["young", "young", "old", "old"], "init_time": [second] * 4,
                       "lead_time_h": [3.0, 24.0] * 2, "followed": False, "track_error_km": np.nan})
    seen = detected_at_init(truth)
    assert seen.to_dict() == {("old", second): True, ("young", second): False}
    m = classify_misses(truth, fc, fo)
    at24 = dict(zip(m[m["lead_time_h"] == 24]["storm"], m[m["lead_time_h"] == 24]["cause"]))
    assert at24 == {"young": "weak at the start", "old": "lost at the first lead"}
    # without the time column nothing is known about the initial fields: the first lead decides
    m = classify_misses(truth.drop(columns="time"), fc, fo)
    assert set(m[m["lead_time_h"] == 24]["cause"]) == {"lost at the first lead"}
    # one of the two +24 h hits is of a storm detectable at the start
    assert reachable_fraction(truth, 24.0) == pytest.approx(0.5)
    assert np.isnan(reachable_fraction(truth, 48.0))


def test_reachable_fraction_leaves_out_genesis_and_weak_starts(case):
    truth, _, _ = case
    # +24 h truth hits: gen (born later), edge, weak (not found at +3 h), lost1, later, disp, other, hit
    assert reachable_fraction(truth, 24.0) == pytest.approx(6 / 8)


def test_shared_misses_puts_each_forecasts_cause_side_by_side(case):
    truth, fc, fo = case
    # a second forecast that hits "disp" and misses "hit"
    other = fc.copy()
    other.loc[(other["storm"] == "disp") & (other["lead_time_h"] == 24), "matched"] = True
    other.loc[(other["storm"] == "hit") & (other["lead_time_h"] == 24), "matched"] = False
    t = shared_misses(truth, {"a": (fc, fo), "b": (other, fo)}, 24.0)
    assert list(t.columns) == ["a", "b"]
    t = t.reset_index().set_index("storm")
    assert t.loc["disp", "a"] == "displaced" and pd.isna(t.loc["disp", "b"])
    assert pd.isna(t.loc["hit", "a"]) and t.loc["hit", "b"] == "other"
    assert t.loc["weak", "a"] == t.loc["weak", "b"] == "weak at the start"
    assert shared_misses(truth, {}, 24.0).empty


def _write_scores(root, name: str, matches_df: pd.DataFrame, follow_df: pd.DataFrame | None):
    d = root / f"scores_{name}"
    d.mkdir()
    matches_df.to_csv(d / "track_matches.csv", index=False)
    if follow_df is not None:
        follow_df.to_csv(d / "track_follow.csv", index=False)
    return d


def test_the_misses_command_counts_prints_and_writes_side_by_side(case, tmp_path, capsys):
    from hurricane_ode.cli import main

    truth, fc, fo = case
    t = _write_scores(tmp_path, "truth", truth, None)
    a = _write_scores(tmp_path, "a", fc, fo)
    perfect = fc.assign(matched=truth["matched"])
    b = _write_scores(tmp_path, "b", perfect, fo)
    out = tmp_path / "misses.csv"
    assert main(["misses", str(a), f"oracle={b}", "--truth-scores", str(t), "--output", str(out)]) == 0
    text = capsys.readouterr().out
    # a: 8 truth hits, one miss of each cause, one hit the truth missed: 2 hits, 2/8 of the truth's
    assert "| a | 8 | 1 | 1 | 1 | 1 | 1 | 1 | 1 | 1 | 0.250 |" in text
    assert "| oracle | 8 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 1.000 |" in text
    assert "75.0% of the truth's hits are of storms detectable at the start" in text
    table = pd.read_csv(out)
    assert list(table.columns) == ["storm", "init_time", "a", "oracle"]
    assert len(table) == 7 and table["oracle"].isna().all()
    # an existing output is kept unless --overwrite; a missing file is named
    assert main(["misses", str(a), "--truth-scores", str(t), "--output", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["misses", str(a), "--truth-scores", str(t), "--output", str(out), "--overwrite"]) == 0
    assert list(pd.read_csv(out).columns) == ["storm", "init_time", "a"]
    # --overwrite replaces only a table this command wrote, never a user's file or folder
    mine = tmp_path / "notes.csv"
    mine.write_text("station,value\nx,1\n")
    for victim in (mine, tmp_path / "scores_a"):
        capsys.readouterr()
        assert main(["misses", str(a), "--truth-scores", str(t), "--output", str(victim), "--overwrite"]) == 2
        assert "refusing to replace" in capsys.readouterr().err
    assert mine.read_text() == "station,value\nx,1\n" and (tmp_path / "scores_a" / "track_follow.csv").is_file()
    assert main(["misses", str(t), "--truth-scores", str(t)]) == 2
    err = capsys.readouterr().err
    assert "track_follow.csv not found" in err and "hurricane-ode score" in err
    assert main(["misses", str(a), "--truth-scores", str(t), "--lead", "5"]) == 2
    assert "the truth's scores have leads 3, 24 h" in capsys.readouterr().err
