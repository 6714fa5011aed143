"""Rank candidate checkpoints on the selection and validation worlds by a rule fixed in advance.

    python scripts/select_checkpoint.py sel.json val.json [--rule lead_balanced]

Each JSON is a ``scripts/validate_checkpoints.py --json`` output; files of the same world are merged
(so candidates scored in several runs can be compared). Every checkpoint row scored on every world
is a candidate; rows named after a registered model (the baselines) are not. Prints each
candidate's score under every rule and names the winner under ``--rule`` (see
:mod:`hurricane_ode.evaluation.selection`). Never give it a held-out test world.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hurricane_ode.evaluation.selection import RULES, rank_candidates
from hurricane_ode.models.base import available_models


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scores", nargs="+", type=Path, help="validate_checkpoints.py --json files, one per world")
    p.add_argument("--rule", default="lead_balanced", choices=sorted(RULES))
    args = p.parse_args()
    by_world: dict[str, dict] = {}
    for f in args.scores:
        record = json.loads(f.read_text())
        by_world.setdefault(record["world"], {}).update(record["rows"])
    worlds = list(by_world.values())
    print(f"{len(worlds)} world(s): {', '.join(by_world)}")
    models = set(available_models())
    names = [n for n in worlds[0] if n not in models and all(n in w for w in worlds)]
    table = {rule: dict(rank_candidates(worlds, names, rule)) for rule in RULES}
    order = list(table[args.rule])  # best first
    print("| candidate | " + " | ".join(RULES) + " |\n|---|" + "---|" * len(RULES))
    for c in order:
        print(f"| {c} | " + " | ".join(f"{table[r][c]:.4f}" for r in RULES) + " |")
    print(f"\nchosen by {args.rule}: {order[0]}")


if __name__ == "__main__":
    main()
