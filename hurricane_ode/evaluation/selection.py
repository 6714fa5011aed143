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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hurricane_ode.errors import InputError

__all__ = ["RULES", "LEADS_H", "all_leads_score", "lead_balanced_score", "rank_candidates"]

#: the leads the ``lead_balanced`` rule averages over, hours
LEADS_H: tuple[float, ...] = (3.0, 6.0, 12.0, 24.0, 36.0, 48.0)

Rows = Mapping[str, Mapping[str, float]]


def _row(rows: Rows, name: str, world: int) -> Mapping[str, float]:
    if name not in rows:
        raise InputError(
            f"selection: world {world} has no scores for {name!r}; it has {sorted(rows)}"
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
        mine, base = _row(w, candidate, i), _row(w, baseline, i)
        for lead in leads_h:
            key = f"nmse_{lead:g}h"
            if key not in mine or key not in base:
                raise InputError(
                    f"selection: world {i} lacks {key} for {candidate!r} or {baseline!r}; "
                    f"score it with validate_checkpoints.py --report-leads {' '.join(f'{x:g}' for x in leads_h)}"
                )
            ratios.append(float(mine[key]) / float(base[key]))
    return sum(ratios) / len(ratios)


RULES = {"all_leads": all_leads_score, "lead_balanced": lead_balanced_score}


def rank_candidates(
    worlds: Sequence[Rows], candidates: Sequence[str], rule: str = "lead_balanced"
) -> list[tuple[str, float]]:
    """``(candidate, score)`` from best (lowest) to worst under ``rule`` (a name in :data:`RULES`)."""
    if rule not in RULES:
        raise InputError(f"selection: rule must be one of {sorted(RULES)}, got {rule!r}")
    if not worlds or not candidates:
        raise InputError("selection: needs at least one world and one candidate")
    scored = [(c, RULES[rule](worlds, c)) for c in candidates]
    return sorted(scored, key=lambda cs: cs[1])
