"""Checkpoint selection rules: lead-balanced against the baseline, all-lead NMSE, storm keeping, clear errors."""

from __future__ import annotations

import pytest

from hurricane_ode.errors import InputError
from hurricane_ode.evaluation.selection import (
    LEADS_H,
    STORM_LEADS_H,
    all_leads_score,
    lead_balanced_score,
    rank_candidates,
    storm_keeping_score,
)


def row(nmse_by_lead: list[float]) -> dict[str, float]:
    out = {f"nmse_{lead:g}h": v for lead, v in zip(LEADS_H, nmse_by_lead)}
    out["nmse"] = sum(nmse_by_lead) / len(nmse_by_lead)
    return out


BASE = row([0.01, 0.03, 0.1, 0.3, 0.45, 0.55])
# "long" wins at long leads and loses at short ones; "even" is 5 % ahead at every lead
LONG = row([0.012, 0.035, 0.1, 0.27, 0.40, 0.48])
EVEN = row([0.0095, 0.0285, 0.095, 0.285, 0.4275, 0.5225])


def test_lead_balanced_counts_every_lead_alike_where_all_leads_follows_the_long_ones():
    worlds = [{"advection_lk": BASE, "long": LONG, "even": EVEN}] * 2
    assert lead_balanced_score(worlds, "even") == pytest.approx(0.95)
    assert lead_balanced_score(worlds, "advection_lk") == pytest.approx(1.0)
    assert [c for c, _ in rank_candidates(worlds, ["long", "even"], "lead_balanced")] == [
        "even",
        "long",
    ]
    assert [c for c, _ in rank_candidates(worlds, ["long", "even"], "all_leads")] == [
        "long",
        "even",
    ]
    assert all_leads_score(worlds, "long") == pytest.approx(LONG["nmse"])


def test_scores_average_over_worlds():
    a = {"advection_lk": BASE, "m": row([v * 0.9 for v in BASE.values()][:6])}
    b = {"advection_lk": BASE, "m": row([v * 1.1 for v in BASE.values()][:6])}
    assert lead_balanced_score([a, b], "m") == pytest.approx(1.0)


def test_missing_rows_leads_and_rules_are_named():
    worlds = [{"advection_lk": BASE, "m": {"nmse": 0.1, "nmse_3h": 0.01}}]
    with pytest.raises(InputError, match="nmse_6h.*--report-leads 3 6 12 24 36 48"):
        lead_balanced_score(worlds, "m")
    with pytest.raises(InputError, match="no scores for 'x'"):
        lead_balanced_score(worlds, "x")
    with pytest.raises(InputError, match="rule must be one of"):
        rank_candidates(worlds, ["m"], "best_looking")


def test_a_world_scored_without_the_baseline_says_how_to_score_it():
    worlds = [{"m": EVEN}]  # validate_checkpoints.py run with an empty --baselines
    for rule in ("lead_balanced", "storm_keeping"):
        with pytest.raises(InputError, match="no scores for 'advection_lk'.*--baselines advection_lk"):
            rank_candidates(worlds, ["m"], rule)


def with_storms(base: dict[str, float], pod_init: float, follow_kept: float) -> dict[str, float]:
    out = dict(base)
    for lead in STORM_LEADS_H:
        out[f"pod_init_{lead:g}h"] = pod_init
        out[f"follow_kept_{lead:g}h"] = follow_kept
    return out


def test_storm_keeping_gates_on_every_lead_then_prefers_the_storms_kept():
    # "keeper" holds more storms than "even" and is ahead of the baseline everywhere; "reckless"
    # holds the most but is behind the baseline at 3 h on one world, so it fails the gate
    behind_at_3h = row([0.011] + [v * 0.9 for v in list(BASE.values())[1:6]])
    worlds = [
        {"advection_lk": BASE, "even": with_storms(EVEN, 0.7, 0.7), "keeper": with_storms(EVEN, 0.8, 0.9),
         "reckless": with_storms(LONG, 1.0, 1.0)},
        {"advection_lk": BASE, "even": with_storms(EVEN, 0.7, 0.7), "keeper": with_storms(EVEN, 0.8, 0.9),
         "reckless": with_storms(behind_at_3h, 1.0, 1.0)},
    ]
    assert storm_keeping_score(worlds, "keeper") == pytest.approx(0.15)
    assert storm_keeping_score(worlds, "even") == pytest.approx(0.30)
    assert storm_keeping_score(worlds, "reckless") == float("inf")
    ranked = [c for c, _ in rank_candidates(worlds, ["reckless", "even", "keeper"], "storm_keeping")]
    assert ranked == ["keeper", "even", "reckless"]


def test_storm_keeping_ties_go_to_the_lower_lead_balanced_score():
    better_fields = row([v * 0.8 for v in list(BASE.values())[:6]])
    worlds = [{"advection_lk": BASE, "even": with_storms(EVEN, 0.8, 0.8),
               "sharp": with_storms(better_fields, 0.8, 0.8)}]
    assert [c for c, _ in rank_candidates(worlds, ["even", "sharp"], "storm_keeping")] == ["sharp", "even"]


def test_storm_keeping_names_a_missing_storm_score():
    worlds = [{"advection_lk": BASE, "m": EVEN}]
    with pytest.raises(InputError, match="lacks pod_init_12h for 'm'"):
        storm_keeping_score(worlds, "m")
