"""Inference: a checkpoint (or a registered baseline) -> a model ready to forecast.

Reads the checkpoint format that :mod:`hurricane_ode.training.checkpoint` writes (a plain
dict: ``format_version``, ``package_version``, ``config``, ``stats``, ``model`` ...) with
``torch.load(weights_only=True)``, without importing :mod:`hurricane_ode.training`, so
forecasting never depends on the training stack.

Every unreadable file is refused with one :class:`~hurricane_ode.errors.CheckpointError`
line that names the path and says what it is instead (empty, text, not a torch file, a
torch file of another kind, another format version).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hurricane_ode import __version__
from hurricane_ode.config import Config, config_from_dict
from hurricane_ode.errors import CheckpointError

__all__ = [
    "CHECKPOINT_FORMAT_VERSION",
    "Forecaster",
    "read_checkpoint",
    "load_forecaster",
    "baseline_forecaster",
    "demo_checkpoint_path",
    "file_digest",
]

#: the checkpoint format this package reads (training/checkpoint.py FORMAT_VERSION)
CHECKPOINT_FORMAT_VERSION = 1
_LAST = "last.pt"


@dataclass
class Forecaster:
    """A model ready to forecast: weights, the config it was trained with, normalisation stats.

    stats: ``{variable: (mean, std)}`` in physical units (m s-1, Pa), as stored in the checkpoint.
    """

    model: nn.Module
    config: Config
    stats: dict[str, tuple[float, float]]
    digest: str = "in-memory"
    source: str = "in-memory"
    package_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def variables(self) -> list[str]:
        """Channel names, in the model's channel order."""
        return list(self.config.data.variables)

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of the tiles the model was trained on."""
        return tuple(self.config.model.image_size)  # type: ignore[return-value]

    @property
    def max_lead_h(self) -> float:
        """Longest lead time (hours after the last input) the model is trusted for.

        Four times the horizon it was trained on (n_targets x frame interval), and
        never less than the longest input gap it saw (max_gap_h).
        """
        s = self.config.data.sampling
        return max(4.0 * s.n_targets * s.frame_interval_h, s.max_gap_h)

    def check(self) -> None:
        """Raise CheckpointError when the checkpoint's channels, variables and stats disagree."""
        where = f"checkpoint {self.source}"
        n_vars, n_ch = len(self.variables), int(self.config.model.in_channels)
        if n_vars != n_ch:
            raise CheckpointError(
                f"{where}: model.in_channels={n_ch} but data.variables lists {n_vars} "
                f"({self.variables}); the checkpoint is inconsistent"
            )
        missing = [v for v in self.variables if v not in self.stats]
        if missing:
            raise CheckpointError(
                f"{where}: no normalisation statistics for {missing}; it cannot produce physical units"
            )
        bad = [v for v in self.variables if not (np.isfinite(self.stats[v][1]) and self.stats[v][1] > 0)]
        if bad:
            raise CheckpointError(f"{where}: normalisation std of {bad} is not a positive number")


def demo_checkpoint_path() -> Path:
    """The demo model shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "resources" / "demo_model.pt"


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file (hex), to record which checkpoint made a forecast."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _what_is(path: Path, head: bytes) -> str | None:
    """A short description of a file that is certainly not a torch checkpoint, else None."""
    if not head:
        return "it is empty (0 bytes)"
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return None  # a torch zip archive or a legacy pickle: let torch.load decide
    if head.startswith(b"\x89HDF") or head.startswith(b"CDF"):
        return "it is a NetCDF/HDF5 file, not a torch checkpoint"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "it is not a torch checkpoint (neither a zip archive nor a pickle)"
    first = text.strip().splitlines()[0][:40] if text.strip() else ""
    return f"it is a text file (starts {first!r}), not a torch checkpoint"


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, Any], Path]:
    """Read a checkpoint file (or a run directory's ``last.pt``) with ``weights_only=True``.

    Parameters
    ----------
    path : a ``.pt`` file written by ``hurricane-ode train``, or its run directory.

    Returns
    -------
    (state dict, resolved path).

    Raises ``FileNotFoundError`` (missing) or :class:`CheckpointError` (one line naming the file).
    """
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / _LAST
    if not p.exists():
        raise FileNotFoundError(f"checkpoint not found: {p}")
    with open(p, "rb") as fh:
        head = fh.read(64)
    why = _what_is(p, head)
    if why:
        raise CheckpointError(f"{p} is not a readable hurricane_ode checkpoint: {why}")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip / unpickling errors: condense torch's advice to one line
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported" in str(exc):
            msg = ("it holds Python objects other than tensors and plain data, which "
                   "weights_only=True refuses (a hurricane_ode checkpoint never does)")
        raise CheckpointError(f"{p} is not a readable hurricane_ode checkpoint: {msg[:200]}") from None
    if not isinstance(state, dict) or "format_version" not in state:
        kind = "a tensor dict without 'format_version' (a bare state_dict?)" if isinstance(state, dict) \
            else f"a {type(state).__name__}"
        raise CheckpointError(
            f"checkpoint {p} is a torch file but not a hurricane_ode checkpoint: it holds {kind}; "
            "use a file written by the `train` command"
        )
    if state["format_version"] != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"{p}: checkpoint format version {state['format_version']} is not supported "
            f"(this hurricane_ode {__version__} reads version {CHECKPOINT_FORMAT_VERSION})"
        )
    for key in ("config", "model"):
        if key not in state:
            raise CheckpointError(f"checkpoint {p} lacks its '{key}' entry; the file is incomplete")
    return state, p


def load_forecaster(checkpoint: str | os.PathLike | None = None, device: str = "cpu") -> Forecaster:
    """Load a checkpoint file or run directory (``None``: the shipped demo model).

    Parameters
    ----------
    checkpoint : path of a checkpoint or run directory; None for the shipped demo model.
    device : torch device for the model.

    Returns
    -------
    A checked :class:`Forecaster` in eval mode. Raises FileNotFoundError (missing) or
    :class:`CheckpointError` naming the file (not a checkpoint, an incompatible format or
    package version, weights that do not fit the config, no normalisation statistics).
    """
    from hurricane_ode.models.base import build_model

    path = Path(checkpoint) if checkpoint is not None else demo_checkpoint_path()
    if checkpoint is None and not path.exists():
        raise FileNotFoundError(
            f"the demo model {path} is missing from this installation; pass a checkpoint "
            "(--checkpoint FILE; train one with the `train` command and configs/demo_model.yaml)"
        )
    state, path = read_checkpoint(path)
    made_by = state.get("package_version") or "an unknown version"
    try:
        config = config_from_dict(state["config"])
        model = build_model(config.model)
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        # unknown config keys / changed architecture: written by another hurricane_ode version
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        if made_by == __version__:
            raise CheckpointError(
                f"checkpoint {path} is inconsistent (its weights do not fit its config): {first}"
            ) from exc
        raise CheckpointError(
            f"checkpoint {path} was written by hurricane_ode {made_by} and does not fit this "
            f"hurricane_ode {__version__} (config or weights differ): {first}"
        ) from exc
    model.to(device).eval()
    stats = state.get("stats")
    if not stats:
        raise CheckpointError(
            f"checkpoint {path} has no normalisation statistics; it cannot produce physical units"
        )
    try:
        stats = {k: (float(v["mean"]), float(v["std"])) for k, v in stats.items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: malformed normalisation statistics ({exc})") from None
    fc = Forecaster(
        model=model, config=config, stats=stats, digest=file_digest(path), source=str(path),
        package_version=state.get("package_version"),
    )  # fmt: skip
    fc.check()
    return fc


def baseline_forecaster(
    name: str,
    stats: dict[str, tuple[float, float]],
    image_size: tuple[int, int],
    n_inputs: int = 5,
    max_lead_h: float = 240.0,
    device: str = "cpu",
) -> Forecaster:
    """A parameter-free registered model (``persistence``, ``advection`` ...) as a Forecaster.

    Parameters
    ----------
    name : a registered model name (see ``hurricane_ode.available_models()``).
    stats : ``{variable: (mean, std)}`` used to normalise inputs (channel order = key order).
    image_size : (H, W) of the tiles.
    n_inputs : input frames chosen by default.
    max_lead_h : longest lead accepted.
    device : torch device.

    Returns
    -------
    A :class:`Forecaster` whose ``source`` is ``model:<name>``. Raises RegistryError/ValueError
    for an unknown name, CheckpointError for a model that needs trained weights.
    """
    from hurricane_ode.models.base import build_model

    variables = list(stats)
    config = config_from_dict({
        "data": {"variables": variables, "sampling": {"n_inputs": int(n_inputs), "n_targets": 1,
                                                      "max_gap_h": float(max_lead_h)}},
        "model": {"name": name, "in_channels": len(variables), "image_size": list(image_size),
                  "n_inputs": int(n_inputs)},
    })  # fmt: skip
    model = build_model(config.model)
    if any(p.requires_grad for p in model.parameters()) and getattr(model, "trainable", True):
        raise CheckpointError(
            f"model '{name}' has trainable weights; give its checkpoint (--checkpoint) instead of --model"
        )
    fc = Forecaster(model=model.to(device).eval(), config=config, stats=dict(stats),
                    digest="none", source=f"model:{name}", package_version=__version__)
    fc.check()
    return fc
