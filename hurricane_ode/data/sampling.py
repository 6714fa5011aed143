"""Irregular time sampling of clips from a regular (possibly gappy) series of frames.

Pure numpy and channel-agnostic: everything here works on the *times* of the
stored frames, expressed as float hours (see :func:`hours_since`), and returns
frame indices. Nothing knows what a frame contains.

Vocabulary (``dt = cfg.frame_interval_h``, ``n = cfg.n_inputs``, ``r = cfg.sampling_rate``):

* The stored frames sit on a regular grid of step ``dt`` hours; frames may be
  missing (a step between neighbours larger than ``dt``).
* A **window** is a run of ``window_length(cfg)`` consecutive grid steps that
  are *all present* in the series. Windows that straddle a missing frame are
  skipped, so the configured sampling rate is exactly the fraction of frames a
  clip sees and every target lands on a real, regular step. ``start`` is the
  index of the window's first frame.
* The **input span** is the first ``W = input_window(cfg)`` frames of the
  window; the inputs are drawn from it:

  - ``task="extrapolation"``, ``irregular=True`` (the paper's CAM5 setting):
    ``W = round(n / r)``; the last frame of the span is always an input, the
    other ``n - 1`` are a uniform random subset of the rest. The expected mean
    gap is exactly ``W / n`` steps, i.e. ``~ dt / r`` hours.
  - ``irregular=False`` (either task): ``W = round((n - 1) / r) + 1`` and the
    inputs are evenly spaced from the first to the last frame of the span
    (rounded to the grid), so the mean gap is ``~ dt / r``. ``r = 1`` gives
    consecutive frames.
  - ``task="interpolation"``, ``irregular=True``: same ``W`` as above; the
    first and last frames are always inputs (so the targets lie between them),
    the ``n - 2`` others are a uniform random subset of the interior.

  Gaps longer than ``max_gap_h`` are avoided by resampling (up to
  :data:`MAX_RESAMPLE` draws); should every draw fail (very low ``r``), the draw
  is clamped: for extrapolation each input is pulled forward so that it lies
  at most ``max_gap_h`` before the next one, for interpolation the evenly
  spaced inputs are used. At very low ``r`` the mean gap therefore saturates
  below ``dt / r``.
* **Targets**:

  - extrapolation: ``n_targets`` frames at regular ``dt`` steps right after the
    last input (``window_length = W + n_targets``);
  - interpolation: ``n_targets`` of the frames strictly between the first and
    last input that are not inputs, chosen *evenly* over those candidates
    (all of them when there are exactly ``n_targets``; ``window_length = W``).

* Clip times are hours relative to the first input (the clip origin, ``t_0 = 0``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hurricane_ode.config import SamplingConfig
from hurricane_ode.errors import InputError
from hurricane_ode.timeutil import hours_between

__all__ = [
    "MAX_RESAMPLE",
    "ClipIndices",
    "hours_since",
    "check_sampling_config",
    "input_window",
    "window_length",
    "target_offsets",
    "grid_steps",
    "valid_starts",
    "sample_clip",
    "drop_inputs",
]

MAX_RESAMPLE = 100
"""Draws tried before an irregular input draw that violates ``max_gap_h`` is clamped."""

_TASKS = ("extrapolation", "interpolation")


# --------------------------------------------------------------------------- time helpers
def hours_since(times: Sequence[Any] | np.ndarray, origin: Any) -> np.ndarray:
    """Float hours from ``origin`` to each of ``times`` in the data's own calendar.

    The same function as :func:`hurricane_ode.timeutil.hours_between` (one implementation):
    cftime (any CF calendar), ``datetime.datetime`` or ``numpy.datetime64`` times.
    """
    return hours_between(times, origin)


# --------------------------------------------------------------------------- configuration
def check_sampling_config(cfg: SamplingConfig) -> None:
    """Raise ``ValueError`` naming the ``SamplingConfig`` field that is out of range."""
    if cfg.task not in _TASKS:
        raise InputError(f"SamplingConfig.task must be one of {_TASKS}, got {cfg.task!r}")
    min_inputs = 2 if cfg.task == "interpolation" else 1
    if int(cfg.n_inputs) != cfg.n_inputs or cfg.n_inputs < min_inputs:
        raise InputError(
            f"SamplingConfig.n_inputs must be an integer >= {min_inputs} for {cfg.task}, "
            f"got {cfg.n_inputs!r}"
        )
    if int(cfg.n_targets) != cfg.n_targets or cfg.n_targets < 1:
        raise InputError(f"SamplingConfig.n_targets must be an integer >= 1, got {cfg.n_targets!r}")
    if not cfg.frame_interval_h > 0:
        raise InputError(
            f"SamplingConfig.frame_interval_h must be > 0 hours, got {cfg.frame_interval_h!r}"
        )
    if not cfg.max_gap_h >= cfg.frame_interval_h:
        raise InputError(
            f"SamplingConfig.max_gap_h ({cfg.max_gap_h} h) must be >= frame_interval_h "
            f"({cfg.frame_interval_h} h)"
        )
    if not 0.0 < cfg.sampling_rate <= 1.0:
        raise InputError(
            f"SamplingConfig.sampling_rate must be in (0, 1], got {cfg.sampling_rate!r}"
        )
    p = getattr(cfg, "input_drop_prob", 0.0)
    if not 0.0 <= p < 1.0:
        raise InputError(f"SamplingConfig.input_drop_prob must be in [0, 1), got {p!r}")
    w = input_window(cfg)
    max_gap = _max_gap_steps(cfg)
    if cfg.n_inputs > 1 and (not cfg.irregular or cfg.task == "interpolation"):
        span = w - 1
        if -(-span // (cfg.n_inputs - 1)) > max_gap:
            raise InputError(
                f"SamplingConfig: sampling_rate={cfg.sampling_rate} spaces {cfg.n_inputs} inputs over "
                f"{span * cfg.frame_interval_h:g} h, so some gap exceeds max_gap_h={cfg.max_gap_h} h; "
                "raise sampling_rate or max_gap_h"
            )
    if cfg.task == "interpolation" and w - cfg.n_inputs < cfg.n_targets:
        raise InputError(
            f"SamplingConfig: interpolation with n_inputs={cfg.n_inputs} and "
            f"sampling_rate={cfg.sampling_rate} leaves only {w - cfg.n_inputs} frame(s) between the "
            f"inputs, fewer than n_targets={cfg.n_targets}; lower sampling_rate or n_targets"
        )


def _max_gap_steps(cfg: SamplingConfig) -> int:
    return max(1, int(np.floor(cfg.max_gap_h / cfg.frame_interval_h + 1e-9)))


def input_window(cfg: SamplingConfig) -> int:
    """Number ``W`` of consecutive frames the inputs are drawn from (see module docstring)."""
    n, r = int(cfg.n_inputs), float(cfg.sampling_rate)
    if cfg.task == "extrapolation" and cfg.irregular:
        w = int(round(n / r))
    else:
        w = int(round((n - 1) / r)) + 1
    return max(n, w)


def window_length(cfg: SamplingConfig) -> int:
    """Consecutive frames a clip needs (inputs span, plus the targets for extrapolation)."""
    w = input_window(cfg)
    return w + int(cfg.n_targets) if cfg.task == "extrapolation" else w


def target_offsets(cfg: SamplingConfig) -> np.ndarray:
    """Offsets from the window start of every frame that may be a target, int64.

    Extrapolation: exactly the ``n_targets`` target frames. Interpolation: every
    frame strictly inside the input span (the targets are among them).
    """
    w = input_window(cfg)
    if cfg.task == "extrapolation":
        return np.arange(w, w + int(cfg.n_targets), dtype=np.int64)
    return np.arange(1, w - 1, dtype=np.int64)


def grid_steps(frame_hours: np.ndarray, frame_interval_h: float) -> np.ndarray:
    """Integer grid position of each frame (``0`` for the first), int64 ``[N]``.

    Raises ``ValueError`` if the hours are not strictly increasing or a frame is
    off the ``frame_interval_h`` grid.
    """
    h = np.asarray(frame_hours, dtype=np.float64)
    if h.ndim != 1:
        raise InputError(f"frame_hours must be 1-D, got shape {h.shape}")
    if h.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.all(np.isfinite(h)):
        raise InputError("frame_hours contains non-finite values")
    if np.any(np.diff(h) <= 0):
        k = int(np.argmax(np.diff(h) <= 0))
        raise InputError(
            f"frame_hours must be strictly increasing; frame {k + 1} ({h[k + 1]} h) "
            f"follows frame {k} ({h[k]} h)"
        )
    rel = (h - h[0]) / frame_interval_h
    steps = np.rint(rel)
    off = np.abs(rel - steps) > 1e-3
    if np.any(off):
        k = int(np.argmax(off))
        raise InputError(
            f"frame {k} at {h[k] - h[0]:g} h after the first frame is not on the "
            f"{frame_interval_h:g}-hour grid (SamplingConfig.frame_interval_h)"
        )
    return steps.astype(np.int64)


def valid_starts(frame_hours: np.ndarray, cfg: SamplingConfig) -> np.ndarray:
    """Indices of the frames that start a full, gap-free window, int64 ``[M]``.

    Raises ``ValueError`` saying how many consecutive frames are needed and how
    many the series has when no window fits.
    """
    check_sampling_config(cfg)
    steps = grid_steps(frame_hours, cfg.frame_interval_h)
    length = window_length(cfg)
    n = steps.size
    need = (
        f"{cfg.task} with n_inputs={cfg.n_inputs}, n_targets={cfg.n_targets}, "
        f"sampling_rate={cfg.sampling_rate} needs {length} consecutive frames "
        f"({length * cfg.frame_interval_h:g} h at {cfg.frame_interval_h:g} h)"
    )
    if n < length:
        raise InputError(f"series too short: {need}, but it has only {n} frame(s)")
    starts = np.arange(n - length + 1)
    ok = steps[starts + length - 1] - steps[starts] == length - 1
    if not ok.any():
        breaks = np.flatnonzero(np.diff(steps) != 1)
        edges = np.concatenate([[-1], breaks, [n - 1]])
        longest = int(np.max(np.diff(edges)))
        raise InputError(
            f"no gap-free window: {need}, but the longest run without missing frames "
            f"has {longest} frame(s) (of {n})"
        )
    return starts[ok].astype(np.int64)


# --------------------------------------------------------------------------- sampling
@dataclass(frozen=True)
class ClipIndices:
    """Where one clip's frames sit in the series.

    ``start``: index of the window's first frame; ``origin``: index of the first
    input (clip time 0). ``input_idx`` ``[n_inputs]`` and ``target_idx``
    ``[n_targets]`` are absolute int64 frame indices, strictly increasing;
    ``input_hours`` / ``target_hours`` are float64 hours since the origin frame.
    """

    start: int
    origin: int
    input_idx: np.ndarray
    target_idx: np.ndarray
    input_hours: np.ndarray
    target_hours: np.ndarray


def _even_positions(w: int, n: int) -> np.ndarray:
    return np.rint(np.linspace(0.0, w - 1.0, n)).astype(np.int64)


def _draw_inputs(cfg: SamplingConfig, rng: np.random.Generator) -> np.ndarray:
    """Input offsets within the input span ``[0, W)``, strictly increasing, int64."""
    n, w = int(cfg.n_inputs), input_window(cfg)
    if not cfg.irregular or w == n:
        return _even_positions(w, n)
    max_gap = _max_gap_steps(cfg)
    pos = np.empty(0, dtype=np.int64)
    for _ in range(MAX_RESAMPLE):
        if cfg.task == "extrapolation":
            head = np.sort(rng.choice(w - 1, size=n - 1, replace=False))
            pos = np.append(head, w - 1).astype(np.int64)
        else:
            inner = np.sort(rng.choice(np.arange(1, w - 1), size=n - 2, replace=False))
            pos = np.concatenate([[0], inner, [w - 1]]).astype(np.int64)
        if n == 1 or np.diff(pos).max() <= max_gap:
            return pos
    if cfg.task == "interpolation":
        return _even_positions(w, n)
    for j in range(n - 2, -1, -1):  # clamp: pull each input to within max_gap of the next
        pos[j] = max(pos[j], pos[j + 1] - max_gap)
    return pos


def _choose_even(candidates: np.ndarray, k: int) -> np.ndarray:
    pick = np.rint(np.linspace(0.0, candidates.size - 1.0, k)).astype(np.int64)
    return candidates[pick]


def sample_clip(
    frame_hours: np.ndarray,
    start: int | None,
    cfg: SamplingConfig,
    rng: np.random.Generator,
) -> ClipIndices:
    """Draw one clip's input and target frames.

    ``frame_hours`` ``[N]``: hours of each stored frame (any origin, see
    :func:`hours_since`). ``start``: window start (one of :func:`valid_starts`),
    or ``None`` to draw one uniformly with ``rng``. Deterministic given ``rng``.
    """
    check_sampling_config(cfg)
    h = np.asarray(frame_hours, dtype=np.float64)
    length = window_length(cfg)
    if start is None:
        starts = valid_starts(h, cfg)
        start = int(starts[rng.integers(starts.size)])
    else:
        start = int(start)
        if not 0 <= start <= h.size - length:
            raise InputError(
                f"sample_clip: start={start} leaves no room for a {length}-frame window in a "
                f"series of {h.size} frames"
            )
        steps = grid_steps(h[start : start + length], cfg.frame_interval_h)
        if steps[-1] != length - 1:
            raise InputError(
                f"sample_clip: the {length}-frame window at start={start} has missing frames "
                f"(use valid_starts to find gap-free windows)"
            )
    pos = _draw_inputs(cfg, rng)
    if cfg.task == "extrapolation":
        tgt = pos[-1] + np.arange(1, int(cfg.n_targets) + 1, dtype=np.int64)
    else:
        between = np.setdiff1d(np.arange(pos[0] + 1, pos[-1], dtype=np.int64), pos)
        tgt = _choose_even(between, int(cfg.n_targets))
    input_idx = start + pos
    target_idx = start + tgt
    origin = int(input_idx[0])
    return ClipIndices(
        start=start,
        origin=origin,
        input_idx=input_idx,
        target_idx=target_idx,
        input_hours=h[input_idx] - h[origin],
        target_hours=h[target_idx] - h[origin],
    )


def drop_inputs(mask: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Randomly mark observed input frames as missing (the frames' times stay).

    ``mask`` ``[T]`` bool (True = observed). Each observed frame is dropped
    independently with probability ``p``; if that would drop them all, one
    observed frame chosen at random is kept. Returns a new bool array.
    """
    m = np.asarray(mask, dtype=bool).copy()
    if m.ndim != 1:
        raise InputError(f"drop_inputs: mask must be 1-D [T], got shape {m.shape}")
    if not 0.0 <= p <= 1.0:
        raise InputError(f"drop_inputs: p must be in [0, 1], got {p!r}")
    observed = np.flatnonzero(m)
    if observed.size == 0:
        raise InputError("drop_inputs: mask has no observed frame to keep")
    if p == 0.0:
        return m
    drop = rng.random(observed.size) < p
    if drop.all():
        drop[rng.integers(observed.size)] = False
    m[observed[drop]] = False
    return m
