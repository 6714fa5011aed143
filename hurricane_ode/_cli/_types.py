"""Argument types shared by the subcommands: argparse reports a bad value naming the option."""

from __future__ import annotations

import argparse
import math


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
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


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
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value
