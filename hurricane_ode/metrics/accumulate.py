"""Metrics that accumulate over batches and merge across shards exactly.

:class:`MetricAccumulator` keeps float64 sums and counts per lead time (and
per channel), so batches can arrive in any order, from any number of dask
workers or DDP ranks, and ``a.merge(b)`` gives the same result as one
accumulator that saw everything. For DDP, ``all_reduce`` the tensors of
:meth:`MetricAccumulator.state_dict` (a sum) and load them back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from hurricane_ode.metrics.frame import (
    check_frames,
    mse_per_frame,
    mse_to_physical,
    psnr_from_mse,
    ssim_per_frame,
)

__all__ = ["MetricAccumulator"]

_SUM_KEYS = ("count", "mse", "psnr", "ssim", "lpips")


class MetricAccumulator:
    """Running MSE / PSNR / SSIM / LPIPS per lead time over ``[B, K, C, H, W]`` batches.

    Parameters
    ----------
    data_range : range ``L`` for PSNR and SSIM (1.0 for ``[0, 1]`` images,
        :data:`~hurricane_ode.metrics.frame.ZSCORE_DATA_RANGE` for z-scores).
    channel_names : names of the C channels (default ``c0, c1, ...``).
    channel_std : per-channel normalisation std (physical units); enables
        ``mse_phys`` (units squared) in :meth:`compute`.
    lead_times : label per lead index ``k`` (e.g. hours) echoed by :meth:`compute`.
    lpips : an :class:`~hurricane_ode.metrics.lpips.LPIPS` module, or None to skip LPIPS.
    ssim : compute SSIM (needs frames >= 11 px).

    Per-frame PSNR (over all channels of a frame) is averaged, so a perfect
    frame makes the mean ``inf``. MSE per channel and SSIM per channel are
    averaged over frames; ``*_mean`` values average over every frame seen.
    """

    def __init__(
        self,
        data_range: float,
        channel_names: Sequence[str] | None = None,
        channel_std: Sequence[float] | None = None,
        lead_times: Sequence[float] | None = None,
        lpips: torch.nn.Module | None = None,
        ssim: bool = True,
    ) -> None:
        self.data_range = float(data_range)
        psnr_from_mse(torch.tensor(1.0), self.data_range)  # validates data_range
        self.channel_names = list(channel_names) if channel_names is not None else None
        self.channel_std = list(map(float, channel_std)) if channel_std is not None else None
        if self.channel_names and self.channel_std and len(self.channel_names) != len(
            self.channel_std
        ):
            raise ValueError(
                f"channel_names ({len(self.channel_names)}) and channel_std "
                f"({len(self.channel_std)}) differ in length"
            )
        self.lead_times = list(lead_times) if lead_times is not None else None
        self.lpips = lpips
        self.use_ssim = bool(ssim)
        self._sums: dict[str, Tensor] | None = None

    # -- state -----------------------------------------------------------
    def _init_sums(self, k: int, c: int) -> None:
        if self.channel_names is not None and len(self.channel_names) != c:
            raise ValueError(f"channel_names has {len(self.channel_names)} names, data has {c} channels")
        if self.channel_std is not None and len(self.channel_std) != c:
            raise ValueError(f"channel_std has {len(self.channel_std)} values, data has {c} channels")
        if self.lead_times is not None and len(self.lead_times) != k:
            raise ValueError(f"lead_times has {len(self.lead_times)} values, data has {k} lead times")
        z = torch.float64
        self._sums = {
            "count": torch.zeros(k, dtype=z),
            "mse": torch.zeros(k, c, dtype=z),
            "psnr": torch.zeros(k, dtype=z),
            "ssim": torch.zeros(k, c, dtype=z),
            "lpips": torch.zeros(k, dtype=z),
        }

    def reset(self) -> None:
        """Forget everything accumulated."""
        self._sums = None

    def state_dict(self) -> dict[str, Tensor]:
        """The float64 sums (``count [K]``, ``mse [K, C]``, ...); summing two of these merges them."""
        if self._sums is None:
            return {}
        return {k: v.clone() for k, v in self._sums.items()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Replace the sums (e.g. after an ``all_reduce``)."""
        if not state:
            self._sums = None
            return
        missing = [k for k in _SUM_KEYS if k not in state]
        if missing:
            raise ValueError(f"MetricAccumulator state is missing {missing}")
        self._sums = {k: torch.as_tensor(state[k], dtype=torch.float64).cpu().clone() for k in _SUM_KEYS}

    # -- accumulate -----------------------------------------------------
    @torch.no_grad()
    def update(self, pred: Tensor, target: Tensor, valid: Tensor | None = None) -> None:
        """Add a batch ``[B, K, C, H, W]``; ``valid [B, K]`` (bool) leaves out masked frames."""
        pred, target = check_frames(pred, target)
        b, k, c, _, _ = pred.shape
        if self._sums is None:
            self._init_sums(k, c)
        assert self._sums is not None
        if self._sums["mse"].shape != (k, c):
            raise ValueError(
                f"batch has {k} lead times x {c} channels, accumulator holds "
                f"{tuple(self._sums['mse'].shape)}"
            )
        w = torch.ones(b, k, dtype=torch.float64)
        if valid is not None:
            if tuple(valid.shape) != (b, k):
                raise ValueError(f"valid must be [B, K] = {(b, k)}, got {tuple(valid.shape)}")
            w = valid.to(torch.float64).cpu()
        mse = mse_per_frame(pred, target).double().cpu()  # [B, K, C]
        psnr = psnr_from_mse(mse.mean(dim=-1), self.data_range)  # [B, K]
        s = self._sums
        s["count"] += w.sum(0)
        s["mse"] += (mse * w[..., None]).sum(0)
        s["psnr"] += torch.where(w > 0, psnr * w, torch.zeros_like(psnr)).sum(0)
        if self.use_ssim:
            ssim = ssim_per_frame(pred, target, self.data_range).double().cpu()
            s["ssim"] += (ssim * w[..., None]).sum(0)
        if self.lpips is not None:
            lp = self.lpips(pred, target).double().cpu()  # [B, K]
            s["lpips"] += (lp * w).sum(0)

    def merge(self, other: MetricAccumulator) -> MetricAccumulator:
        """Add ``other``'s sums into this accumulator (in place) and return self."""
        if other._sums is None:
            return self
        if self._sums is None:
            self._sums = {k: v.clone() for k, v in other._sums.items()}
            return self
        if self._sums["mse"].shape != other._sums["mse"].shape:
            raise ValueError(
                f"cannot merge accumulators of shapes {tuple(self._sums['mse'].shape)} and "
                f"{tuple(other._sums['mse'].shape)} (lead times x channels)"
            )
        for key in _SUM_KEYS:
            self._sums[key] += other._sums[key]
        return self

    # -- results --------------------------------------------------------
    def compute(self) -> dict[str, Any]:
        """Means per lead time (lists indexed by ``k``) and over all frames (``*_mean``).

        Keys: ``count``, ``lead_time``, ``channels``, ``mse``/``mse_mean`` (all
        channels, normalised units), ``mse_per_channel`` {name: [per k]},
        ``psnr``/``psnr_mean`` (dB), ``ssim``/``ssim_mean``/``ssim_per_channel``
        (if enabled), ``lpips``/``lpips_mean`` (if an LPIPS module was given),
        ``mse_phys``/``mse_phys_mean`` {name: ...} (if ``channel_std`` was given).
        """
        if self._sums is None or float(self._sums["count"].sum()) == 0:
            raise RuntimeError("MetricAccumulator.compute() called before any (valid) frame was added")
        s = self._sums
        k, c = s["mse"].shape
        names = self.channel_names or [f"c{i}" for i in range(c)]
        n = s["count"]
        tot = float(n.sum())
        nk = n.clamp(min=1)[:, None]

        def per_k(x: Tensor) -> list[float]:
            return [v if n[i] > 0 else math.nan for i, v in enumerate(x.tolist())]

        mse_kc = s["mse"] / nk
        out: dict[str, Any] = {
            "count": [int(v) for v in n.tolist()],
            "lead_time": self.lead_times if self.lead_times is not None else list(range(k)),
            "channels": names,
            "data_range": self.data_range,
            "mse": per_k(mse_kc.mean(1)),
            "mse_mean": float(s["mse"].sum() / (tot * c)),
            "mse_per_channel": {nm: per_k(mse_kc[:, i]) for i, nm in enumerate(names)},
            "psnr": per_k(s["psnr"] / nk[:, 0]),
            "psnr_mean": float(s["psnr"].sum() / tot),
        }
        if self.use_ssim:
            ssim_kc = s["ssim"] / nk
            out["ssim"] = per_k(ssim_kc.mean(1))
            out["ssim_mean"] = float(s["ssim"].sum() / (tot * c))
            out["ssim_per_channel"] = {nm: per_k(ssim_kc[:, i]) for i, nm in enumerate(names)}
        if self.lpips is not None:
            out["lpips"] = per_k(s["lpips"] / nk[:, 0])
            out["lpips_mean"] = float(s["lpips"].sum() / tot)
        if self.channel_std is not None:
            phys_kc = mse_to_physical(mse_kc, self.channel_std)
            phys_mean = mse_to_physical(s["mse"].sum(0) / tot, self.channel_std)
            out["mse_phys"] = {nm: per_k(phys_kc[:, i]) for i, nm in enumerate(names)}
            out["mse_phys_mean"] = {nm: float(phys_mean[i]) for i, nm in enumerate(names)}
        return out
