"""Score a checkpoint (default: the shipped demo model) beside persistence and advection, by lead.

Makes a synthetic world with a seed never used in training (default 777, 20 days, 1 degree),
hindcasts the natl basin from every 12 h with the model and the two parameter-free baselines,
and scores all three with :func:`hurricane_ode.score` (RMSE by lead; POD, FAR, track and
central-pressure error against the world's true tracks). Public API only::

    python benchmarks/score_demo_model.py [--checkpoint FILE] [--seed 777] [--days 20]
    python benchmarks/score_demo_model.py --from-scores s_demo s_persistence s_advection

The second form prints the same tables from ``hurricane-ode score`` output directories.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

COLUMNS = [("rmse_PSL", "PSL RMSE Pa", "{:.0f}"), ("rmse_U850", "U850 RMSE", "{:.2f}"),
           ("pod", "POD", "{:.2f}"), ("far", "FAR", "{:.2f}"), ("track_error_km", "track km", "{:.0f}"),
           ("psl_error_hpa", "|dP| hPa", "{:.1f}"), ("n_true", "n", "{:.0f}")]


def print_tables(tables: dict[str, pd.DataFrame]) -> None:
    """One block per metric: rows = lead time, columns = models."""
    leads = next(iter(tables.values()))["lead_time_h"].tolist()
    for col, label, fmt in COLUMNS:
        print(f"\n{label} by lead")
        print(f"{'lead h':>7} | " + " ".join(f"{name:>12}" for name in tables))
        for i, lead in enumerate(leads):
            cells = [fmt.format(t[col].iloc[i]) if col in t else "-" for t in tables.values()]
            print(f"{lead:7g} | " + " ".join(f"{c:>12}" for c in cells))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None, help="checkpoint (default: the shipped demo model)")
    p.add_argument("--seed", type=int, default=777, help="world seed (the demo model saw seed 2005)")
    p.add_argument("--days", type=float, default=20)
    p.add_argument("--init", default="2005-08-03T00/2005-08-18T00/12h")
    p.add_argument("--lead", default="0/48h/6h")
    p.add_argument("--from-scores", nargs="+", metavar="DIR", help="print tables from score directories")
    args = p.parse_args()
    if args.from_scores:
        tables = {}
        for d in args.from_scores:
            t = pd.read_csv(Path(d) / "scores.csv")
            tables[str(t["model"].iloc[0])] = t
        print_tables(tables)
        return

    import hurricane_ode as ho
    from hurricane_ode.data.synthetic import make_synthetic_world
    from hurricane_ode.verification import write_scores

    with tempfile.TemporaryDirectory() as tmp:
        world = make_synthetic_world(Path(tmp) / "world", days=args.days, seed=args.seed, progress=False)
        fc = ho.load_forecaster(args.checkpoint)
        files = list(world.files)
        runs = {"model": ho.hindcast(fc, files, "natl", args.init, args.lead)}
        for name in ("persistence", "advection"):
            runs[name] = ho.hindcast(None, files, "natl", args.init, args.lead, model=name, shape=fc.image_size)
        tables = {}
        for name, hc in runs.items():
            s = ho.score(hc, files, world.tracks)
            tables[name] = pd.read_csv(write_scores(s, Path(tmp) / name)["csv"])
    print(f"world seed {args.seed}, {args.days:g} days; {runs['model'].sizes['init_time']} initial times "
          f"({args.init}); checkpoint {fc.source}")
    print_tables(tables)


if __name__ == "__main__":
    main()
