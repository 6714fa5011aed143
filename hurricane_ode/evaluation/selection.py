"""Choosing a checkpoint on validation worlds: the rules, written down before any scoring.

Scores are the rows ``scripts/validate_checkpoints.py --json`` writes: ``{row name: {score:
value}}`` per world, with ``nmse`` (all leads) and ``nmse_<L>h`` at each reported lead. Every rule
here reads the selection and validation worlds only; the held-out test worlds are never an input.

* ``all_leads`` (waves 1-2 until the seventh session): the mean over worlds of the all-lead NMSE.
  Long leads, whose errors are ten to a hundred times larger, decide it.
* ``lead_balanced`` (pre-registered in the seventh session, before the candidates it chose between
  were scored): the mean over worlds and over the leads 3, 6, 12, 24, 36 and 48 h of
  ``NMSE(candidate, lead) / NMSE(baseline, lead)``, the baseline being ``advection_lk`` (the
  decoder's own starting point). Each lead counts alike, so a candidate cannot buy long-lead skill
  with short-lead losses. Below 1 means ahead of the baseline on average.
* ``storm_keeping`` (pre-registered in the eleventh session, before the candidates it chose between
  were scored): issue 13's field target as a gate, then its storm targets. A candidate qualifies
  only if its NMSE is below the baseline's at every lead of :data:`LEADS_H` on every world; among
  those, the lowest ``1 - kept`` wins, ``kept`` being the mean over worlds and the leads of
  :data:`STORM_LEADS_H` of ``(pod_init + follow_kept) / 2``: the share of the storms present at the
  initial time that the forecast still holds, by the tracker's matches and by following each storm
  from its fix. A candidate that fails the gate scores infinity. Ties (equal scores) go to the lower
  ``lead_balanced`` score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from hurricane_ode.errors import InputError

__all__ = [
    "RULES",
    "LEADS_H",
    "STORM_LEADS_H",
    "all_leads_score",
    "lead_balanced_score",
    "rank_candidates",
    "storm_keeping_score",
]

#: the leads the ``lead_balanced`` rule averages over, hours
LEADS_H: tuple[float, ...] = (3.0, 6.0, 12.0, 24.0, 36.0, 48.0)
#: the leads the ``storm_keeping`` rule averages its storm scores over, hours (around issue 13's +24 h)
STORM_LEADS_H: tuple[float, ...] = (12.0, 24.0, 36.0)

Rows = Mapping[str, Mapping[str, float]]


def _score(row: Mapping[str, float], key: str, name: str, world: int) -> float:
    if key not in row:
        raise InputError(
            f"selection: world {world} lacks {key} for {name!r}; score it with "
            "validate_checkpoints.py (its rows carry nmse_<L>h, pod_init_<L>h and follow_kept_<L>h)"
        )
    return float(row[key])


def _row(rows: Rows, name: str, world: int, baseline: bool = False) -> Mapping[str, float]:
    if name not in rows:
        hint = (f" (the rule compares every candidate with the baseline {name!r}: score it on the same "
                f"world, validate_checkpoints.py WORLD CKPT... --baselines {name})") if baseline else ""
        raise InputError(
            f"selection: world {world} has no scores for {name!r}; it has {sorted(rows)}{hint}"
        )
    return rows[name]


def all_leads_score(worlds: Sequence[Rows], candidate: str) -> float:
    """Mean over worlds of the candidate's all-lead NMSE."""
    return sum(float(_row(w, candidate, i)["nmse"]) for i, w in enumerate(worlds)) / len(worlds)


def lead_balanced_score(
    worlds: Sequence[Rows],
    candidate: str,
    baseline: str = "advection_lk",
    leads_h: Sequence[float] = LEADS_H,
) -> float:
    """Mean over worlds and leads of NMSE(candidate, lead) / NMSE(baseline, lead)."""
    ratios = []
    for i, w in enumerate(worlds):
        mine, base = _row(w, candidate, i), _row(w, baseline, i, baseline=True)
        for lead in leads_h:
            key = f"nmse_{lead:g}h"
            if key not in mine or key not in base:
                raise InputError(
                    f"selection: world {i} lacks {key} for {candidate!r} or {baseline!r}; "
                    f"score it with validate_checkpoints.py --report-leads {' '.join(f'{x:g}' for x in leads_h)}"
                )
            ratios.append(float(mine[key]) / float(base[key]))
    return sum(ratios) / len(ratios)


def storm_keeping_score(
    worlds: Sequence[Rows],
    candidate: str,
    baseline: str = "advection_lk",
    leads_h: Sequence[float] = LEADS_H,
    storm_leads_h: Sequence[float] = STORM_LEADS_H,
) -> float:
    """``1 - kept`` (see the module notes) if NMSE beats ``baseline`` at every lead everywhere, else inf."""
    kept = []
    for i, w in enumerate(worlds):
        mine, base = _row(w, candidate, i), _row(w, baseline, i, baseline=True)
        for lead in leads_h:
            key = f"nmse_{lead:g}h"
            if _score(mine, key, candidate, i) >= _score(base, key, baseline, i):
                return math.inf
        for lead in storm_leads_h:
            pod = _score(mine, f"pod_init_{lead:g}h", candidate, i)
            follow = _score(mine, f"follow_kept_{lead:g}h", candidate, i)
            kept.append((pod + follow) / 2.0)
    return 1.0 - sum(kept) / len(kept)


RULES = {
    "all_leads": all_leads_score,
    "lead_balanced": lead_balanced_score,
    "storm_keeping": storm_keeping_score,
}


def rank_candidates(
    worlds: Sequence[Rows], candidates: Sequence[str], rule: str = "lead_balanced"
) -> list[tuple[str, float]]:
    """``(candidate, score)`` from best (lowest) to worst under ``rule`` (a name in :data:`RULES`)."""
    if rule not in RULES:
        raise InputError(f"selection: rule must be one of {sorted(RULES)}, got {rule!r}")
    if not worlds or not candidates:
        raise InputError("selection: needs at least one world and one candidate")
    scored = [(c, RULES[rule](worlds, c), lead_balanced_score(worlds, c)) for c in candidates]
    return [(c, score) for c, score, _ in sorted(scored, key=lambda row: (row[1], row[2]))]
