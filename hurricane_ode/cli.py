"""The ``hurricane-ode`` command: a thin shell over the Python API.

Each subcommand lives in its own module under ``hurricane_ode/_cli/`` and
provides ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Adding a subcommand is one new module plus one entry in ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from hurricane_ode import __version__

#: subcommand name -> module under hurricane_ode._cli
SUBCOMMANDS: dict[str, str] = {
    "synth": "synth",
    "prepare": "prepare",
    "train": "train",
    "forecast": "forecast",
    "evaluate": "evaluate",
    "plot": "plot",
    "demo": "demo",
    "video": "video",
}


def _available() -> dict[str, object]:
    return {name: importlib.import_module(f"hurricane_ode._cli.{m}") for name, m in SUBCOMMANDS.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hurricane-ode",
        description=(
            "Learn continuous-time dynamics of CAM5 U850/V850/PSL fields with Vid-ODE and "
            "forecast tropical cyclones at any time from sparse, irregularly timed inputs."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hurricane_ode {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in _available().items():
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args._run(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError, KeyError, TypeError, PermissionError) as exc:
        # Input errors: one clear line, no traceback (use -vv for the traceback).
        if args.verbose >= 2:
            raise
        msg = exc.args[0] if exc.args else str(exc)
        print(f"hurricane-ode {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
