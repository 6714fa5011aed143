"""The ``hurricane-ode`` command: a thin shell over the Python API.

Each subcommand lives in its own module under ``hurricane_ode/_cli/`` and
provides ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Adding a subcommand is one new module plus one entry in ``SUBCOMMANDS``.

Errors: exactly :class:`~hurricane_ode.errors.HurricaneODEError` and ``OSError`` are
reported as one line ``hurricane-ode COMMAND: error: ...`` with exit status 2 (an
``OSError`` as ``strerror: path``); anything else is a bug and shows its traceback
(exit status 1). ``-vv`` shows the traceback of every error.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import NoReturn

from hurricane_ode import __version__
from hurricane_ode.errors import HurricaneODEError

#: subcommand name -> module under hurricane_ode._cli
SUBCOMMANDS: dict[str, str] = {
    "synth": "synth",
    "prepare": "prepare",
    "train": "train",
    "forecast": "forecast",
    "hindcast": "hindcast",
    "score": "score",
    "misses": "misses",
    "compare": "compare",
    "evaluate": "evaluate",
    "plot": "plot",
    "demo": "demo",
    "video": "video",
}

#: subcommand -> (argument naming its output, create missing parent directories): the CLI holds
#: that output's lock (hurricane_ode.locking.output_lock) for the whole run, so a second writer of
#: the same output is refused before any work
OUTPUT_LOCKS: dict[str, tuple[str, bool]] = {
    "forecast": ("output", False),
    "prepare": ("output", True),
    "demo": ("output", True),
}


def _available() -> dict[str, ModuleType]:
    return {
        name: importlib.import_module(f"hurricane_ode._cli.{m}") for name, m in SUBCOMMANDS.items()
    }


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (the usage is behind ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``hurricane-ode`` parser with one subparser per entry of :data:`SUBCOMMANDS`.

    Returns
    -------
    argparse.ArgumentParser
        The parser; each subcommand sets ``args._run``.
    """
    parser = _Parser(
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


def describe_error(exc: BaseException) -> str:
    """One line for a user-facing error: ``strerror: path`` for an OS error, else the message.

    Parameters
    ----------
    exc
        A :class:`HurricaneODEError` or ``OSError``.

    Returns
    -------
    str
        The message, on one line.
    """
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, HurricaneODEError):
        name = exc.filename
        if exc.errno == errno.ENOTDIR and name is not None:
            anc = Path(os.fsdecode(name)).parent
            while not os.path.lexists(anc) and anc != anc.parent:
                anc = anc.parent
            if anc.is_file():
                return f"not a directory: {os.fsdecode(name)} is under a regular file ({anc})"
        msg = exc.strerror if name is None else f"{exc.strerror}: {os.fsdecode(name)}"
        if exc.filename2 is not None:
            msg += f" -> {os.fsdecode(exc.filename2)}"
    else:
        msg = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)
    lines = [line.strip() for line in str(msg).splitlines() if line.strip()]
    return "; ".join(lines) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hurricane-ode`` command line; return the exit status.

    Parameters
    ----------
    argv
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for an error reported as one line, 130 when interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        with contextlib.ExitStack() as stack:
            arg, make_parents = OUTPUT_LOCKS.get(args.command, (None, False))
            output = getattr(args, arg, None) if arg else None
            if output is not None:
                from hurricane_ode.locking import output_lock

                stack.enter_context(output_lock(output, make_parents=make_parents))
            return int(args._run(args) or 0)
    except (HurricaneODEError, OSError) as exc:
        # Errors a user can cause and fix: one clear line, no traceback (-vv shows it).
        if args.verbose >= 2:
            raise
        print(f"hurricane-ode {args.command}: error: {describe_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hurricane-ode {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
