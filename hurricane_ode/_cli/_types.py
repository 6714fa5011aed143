"""Argument types shared by the subcommands: argparse reports a bad value naming the option."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

_Number = TypeVar("_Number", int, float)


def _positive(text: str, cast: Callable[[str], _Number], what: str) -> _Number:
    """``cast(text)`` when it is finite and > 0, else an ``ArgumentTypeError`` saying ``what``."""
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """``argparse`` type: an integer >= 1.

    Parameters
    ----------
    text
        The command-line value.

    Returns
    -------
    int
        The value.
    """
    return _positive(text, int, "a positive integer")


def positive_float(text: str) -> float:
    """``argparse`` type: a finite number > 0.

    Parameters
    ----------
    text
        The command-line value.

    Returns
    -------
    float
        The value.
    """
    return _positive(text, float, "a positive number")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults only where they say something (not None / False / required options)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.required or action.default in (None, False):
            return action.help or ""
        return super()._get_help_string(action) or ""
