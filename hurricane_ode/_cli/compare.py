"""``hurricane-ode compare``: is one forecast's lead over another significant, lead by lead?"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "paired Diebold-Mariano test of two forecasts' scores at every lead (is the difference real?)"
DESCRIPTION = (
    "Read the per-initial-time errors that `hurricane-ode score` wrote for two hindcasts of the same "
    "initial times and leads on the same truth, and test at every lead whether their mean losses differ "
    "(the modified Diebold-Mariano test of the `scores` library, which allows for the autocorrelation of "
    "forecasts from nearby initial times; hurricane_ode.verification.significance). Prints both pooled "
    "scores, the mean loss difference A - B with its confidence interval, and which forecast is better "
    "where the interval excludes zero ('tie' otherwise)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``hurricane-ode compare``."""
    from hurricane_ode.verification.significance import LOSSES

    parser.add_argument("a", type=Path, metavar="A_DIR", help="`hurricane-ode score --output` of forecast A")
    parser.add_argument("b", type=Path, metavar="B_DIR", help="`hurricane-ode score --output` of forecast B")
    parser.add_argument("--loss", choices=LOSSES, default="nmse",
                        help="nmse: mean over variables of normalised MSE; mse: MSE of --variable (default: nmse)")
    parser.add_argument("--variable", default="PSL", help="the variable of --loss mse (default: PSL)")
    parser.add_argument("--confidence", type=float, default=0.9, help="level of the interval (default: 0.9)")
    parser.add_argument("--method", choices=("HG", "HLN"), default="HG",
                        help="HG: Hering and Genton (2011); HLN: Harvey, Leybourne and Newbold (1997)")
    parser.add_argument("--output", type=Path, metavar="CSV", help="also write the table to this CSV")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output table")


_HEADER = "lead_time_h,a,b,mean_diff,"


def run(args: argparse.Namespace) -> int:
    """Test, print and (with --output) write the comparison."""
    from hurricane_ode.outputs import check_table_output, write_table
    from hurricane_ode.verification.significance import compare_scores, verdict

    check_table_output(args.output, args.overwrite, _HEADER, "compare")  # only a table it wrote is replaced
    table = compare_scores(args.a, args.b, args.loss, args.variable, confidence=args.confidence, method=args.method)
    table["better"] = table.apply(verdict, axis=1).replace({"a": "A", "b": "B"})
    what = "normalised MSE" if args.loss == "nmse" else f"RMSE of {args.variable} (test on its MSE)"
    print(f"A = {args.a}\nB = {args.b}\n{what}; interval: {args.confidence:.0%} on the mean loss difference A - B "
          f"({args.method})\n")
    print("| lead (h) | A | B | mean A - B | interval | P(A better) | better |")
    print("|---|---|---|---|---|---|---|")
    for lead, r in table.iterrows():
        print(f"| {lead:g} | {r['a']:.4g} | {r['b']:.4g} | {r['mean_diff']:.3g} | "
              f"[{r['ci_lower']:.3g}, {r['ci_upper']:.3g}] | {r['p_a_better']:.2f} | {r['better']} |")
    if args.output is not None:
        write_table(table, args.output)
        print(f"\nwrote {args.output}")
    return 0
