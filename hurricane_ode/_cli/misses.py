"""``hurricane-ode misses``: why forecasts miss the storms the tracker finds in the true fields."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "why each forecast misses the storms the tracker finds in the truth, and which misses they share"
DESCRIPTION = (
    "Read the track scores that `hurricane-ode score` wrote for the true fields scored as a forecast "
    "(--truth-scores) and for one or more forecasts, and give each storm the truth's tracker finds and a "
    "forecast misses one cause (born after the initial time, not followed, weak at the start, lost at the "
    "first lead, lost later, displaced, other; hurricane_ode.verification.misses). Prints the counts at "
    "--lead, the share of the truth's hits a forecast without genesis or deepening from below detection "
    "could keep, and with --output writes every miss side by side (one column of causes per forecast) to a CSV."
)


def _named(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep:
        p = Path(text)
        return (p.name[len("scores_"):] if p.name.startswith("scores_") else p.name) or text, p
    if not name or not path:
        raise argparse.ArgumentTypeError(f"'{text}' must be DIR or NAME=DIR")
    return name, Path(path)


_HEADER = "storm,init_time,"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``hurricane-ode misses``."""
    parser.add_argument("scores", nargs="+", type=_named, metavar="[NAME=]DIR",
                        help="`hurricane-ode score --output` directories of the forecasts (NAME defaults to "
                             "the directory's name without 'scores_')")
    parser.add_argument("--truth-scores", required=True, type=Path, metavar="DIR",
                        help="`hurricane-ode score --output` of the true fields at the same initial times and "
                             "leads (`hurricane-ode hindcast --model truth`): the tracker's reference")
    parser.add_argument("--lead", type=float, default=24.0, metavar="HOURS", help="lead time to count at")
    parser.add_argument("--match-km", type=float, default=300.0,
                        help="the hit radius the scores used (km): beyond it a followed storm is displaced")
    parser.add_argument("--output", type=Path, metavar="CSV", help="write every miss, side by side, to this CSV")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")


def run(args: argparse.Namespace) -> int:
    """Count, print and (with --output) write the misses."""
    from hurricane_ode.errors import InputError
    from hurricane_ode.outputs import check_table_output, write_table
    from hurricane_ode.verification.misses import (
        FIXABLE_CAUSES,
        MISS_CAUSES,
        count_misses,
        reachable_fraction,
        read_track_scores,
        shared_misses,
    )

    names = [n for n, _ in args.scores]
    if len(set(names)) != len(names):
        raise InputError(f"forecast names repeat ({', '.join(names)}); give each a NAME=DIR")
    if not args.match_km > 0:
        raise InputError(f"--match-km must be > 0 km, got {args.match_km}")
    check_table_output(args.output, args.overwrite, _HEADER, "misses")  # only a table it wrote is replaced
    truth, _ = read_track_scores(args.truth_scores, follow=False)
    forecasts = {}
    for name, d in args.scores:
        matches, follow = read_track_scores(d)
        assert follow is not None
        forecasts[name] = (matches, follow)
    leads = sorted(set(truth["lead_time_h"].astype(float)))
    if args.lead not in leads:
        raise InputError(f"--lead {args.lead:g} h: the truth's scores have leads {', '.join(f'{x:g}' for x in leads)} h")
    counts = {n: count_misses(truth, m, f, args.lead, args.match_km) for n, (m, f) in forecasts.items()}
    header = list(next(iter(counts.values())))
    print(f"+{args.lead:g} h: the storms the truth's tracker finds that each forecast misses, by cause\n")
    print("| forecast | " + " | ".join(header) + " | POD / the truth's |")
    print("|---|" + "---|" * (len(header) + 1))
    for n, c in counts.items():
        hits = c["truth hits"] - sum(c[k] for k in MISS_CAUSES) + c["hits the truth missed"]
        ratio = hits / c["truth hits"] if c["truth hits"] else float("nan")
        print(f"| {n} | " + " | ".join(str(v) for v in c.values()) + f" | {ratio:.3f} |")
    reach = reachable_fraction(truth, args.lead)
    print(f"\n{reach:.1%} of the truth's hits are of storms detectable at the start: the most a forecast "
          "without genesis or deepening from below detection keeps (besides its hits the truth missed).")
    table = shared_misses(truth, forecasts, args.lead, args.match_km)
    if len(forecasts) > 1 and len(table):
        avoidable = table.isin(FIXABLE_CAUSES)
        print(f"\navoidable misses ({', '.join(FIXABLE_CAUSES)}) and how many every other forecast misses too:")
        for n in forecasts:
            others = table.drop(columns=n).notna().all(axis=1)
            print(f"  {n}: {int(avoidable[n].sum())}, shared by all the others {int((avoidable[n] & others).sum())}")
    if args.output is not None:
        write_table(table, args.output)
        print(f"\nwrote {args.output} ({len(table)} miss(es) at +{args.lead:g} h)")
    return 0
