"""The Vid-ODE objective (Park et al. 2021, Sec. 3.3), generator and discriminator sides.

Every loss takes a batched :class:`~hurricane_ode.data.clips.Clip` and a
:class:`~hurricane_ode.models.base.ModelOutput`; frames are ``[B, K, C, H, W]``.
Target frames with ``target_mask == False`` never contribute.

Terms (L1 terms are means over the valid frames' elements):

* ``recon``  Eq. 5  ``|X_hat_si - X_si|``.
  With ``loss.lead_weighting = "persistence"`` (ours) it is :func:`lead_weighted_l1`.
* ``diff``   Eq. 6  ``|D_si - (X_si - X_si-1)|`` with ``X_s0 = reference_frames(...)`` (the
  rule the model uses to start its composition); a step counts only when both
  ``X_si`` and ``X_si-1`` are present. Skipped when the model gives no ``difference``.
* ``grad`` (ours, off unless ``lambda_grad > 0``): L1 between the spatial finite differences
  of generated and true frames (the gradient difference loss of Mathieu et al. 2016), which
  a blurred vortex pays for even where its L1 error is small.
* ``intensity`` (ours, off unless ``lambda_intensity > 0``): L1 between the spatial minimum
  of generated and true frames in one channel (PSL: the central pressure of the deepest low
  in the frame), the quantity a filled vortex gets wrong.
* ``storm`` (ours, off unless ``lambda_storm > 0``): L1 averaged with the clips'
  ``target_weights`` (storm proximity, 1 at a track point), so the few pixels of a vortex
  weigh as much as the whole frame does in ``recon``.
* ``mask`` (ours, off unless ``lambda_mask > 0``): mean of ``1 - M`` over valid targets, a
  prior towards the warped frame (:func:`mask_loss`). ``storm_mask`` and ``storm_flow``: the
  terms near storms of :mod:`hurricane_ode.training.storm_losses`.
* ``g_img`` / ``d_img``  Eq. 3, LS-GAN on single frames: real = valid targets, fake = the
  generated frames at the same positions.
* ``g_seq`` / ``d_seq``  Eq. 4, LS-GAN on sequences. What is implemented
  (:func:`sequence_clips`): real = ``[inputs; targets]`` sorted by time (stable, so a
  target at an input's time follows it); fake = the same with *every* generated frame in
  place of its target, as the official code does. The sequence discriminator
  (:class:`~hurricane_ode.models.discriminators.SequenceDiscriminator`) scores the causal
  windows of ``T + 1`` frames: for extrapolation only the K windows ending at
  ``s_1..s_K`` (Eq. 4's windows ``X_{t_i:s_i}``; the windows ending at inputs are the
  same in both sequences and carry no signal), for interpolation every window.
  Why all generated frames count as fake (rather than Eq. 4's literal window with real
  frames up to ``s_{i-1}`` and one generated frame, kept as :func:`sequence_pairs`): it is
  what the authors train with, it judges the generated sequence as the model will roll
  it out, and it lets one pass over each sample's ``T + K`` frames replace ``K``
  overlapping windows. Missing targets are kept real in both sequences so they carry no
  signal. Real and fake go through each discriminator in one call (a batch
  concatenation; GroupNorm is per sample, so this equals two calls).

LS-GAN (Mao et al. 2017): the discriminator minimises ``(D(real) - 1)^2 + D(fake)^2``
(Eq. 3/4 as written, no 1/2 factor); the generator minimises ``(D(fake) - 1)^2``, the
usual LS-GAN generator objective that the paper's min-max shorthand stands for.

Total (Eq. 7): ``recon + lambda_diff * diff + lambda_img * g_img + lambda_seq * g_seq``
(``+ lambda_grad * grad + lambda_intensity * intensity + lambda_storm * storm + lambda_mask * mask
+ lambda_storm_mask * storm_mask + lambda_storm_flow * storm_flow`` when set)
plus every ``ModelOutput.aux_losses`` term added as is. Losses are computed in float32
even under autocast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor, nn

from hurricane_ode.config import LossConfig
from hurricane_ode.data.clips import Clip
from hurricane_ode.models.base import ModelOutput, reference_frames
from hurricane_ode.models.discriminators import SequenceDiscriminator
from hurricane_ode.training.storm_losses import (
    _composition_mask,
    storm_flow_loss,
    storm_loss,
    storm_mask_loss,
)

__all__ = [
    "masked_l1", "reconstruction_loss", "lead_weighted_l1", "difference_loss", "gradient_loss",
    "intensity_loss", "storm_loss", "storm_mask_loss", "storm_flow_loss", "mask_loss", "target_differences", "fill_missing",
    "sequence_pairs", "sequence_clips", "lsgan_generator_loss", "lsgan_discriminator_loss",
    "generator_loss", "discriminator_loss", "TASKS",
]  # fmt: skip

TASKS = ("extrapolation", "interpolation")


def masked_l1(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean absolute error over frames where ``mask`` ``[B, K]`` is True.

    pred, target ``[B, K, C, H, W]``. Returns a float32 scalar (0 when no frame is valid,
    still connected to the graph).
    """
    if pred.shape != target.shape:
        raise ValueError(
            f"masked_l1: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ"
        )
    if mask.shape != pred.shape[:2]:
        raise ValueError(
            f"masked_l1: mask must be {tuple(pred.shape[:2])}, got {tuple(mask.shape)}"
        )
    err = (pred.float() - target.float()).abs()
    w = mask.to(err.dtype)[:, :, None, None, None]
    n_per_frame = err[0, 0].numel()
    denom = w.sum() * n_per_frame
    return (err * w).sum() / denom.clamp_min(1.0)


def reconstruction_loss(out: ModelOutput, batch: Clip) -> Tensor:
    """Eq. 5: L1 between generated and true target frames (valid targets only)."""
    return masked_l1(out.frames, batch.targets, batch.target_mask)


def lead_weighted_l1(out: ModelOutput, batch: Clip) -> Tensor:
    """Eq. 5 with each target position ``k`` weighted by ``1 / L1(persistence)_k`` (ours).

    ``L1_k`` is the mean ``|X_hat_sk - X_sk|`` over the batch's valid frames at position k,
    ``P_k`` the same for persistence (the reference frame ``X_s0``, detached). The loss is
    ``sum_k w_k L1_k / sum_k valid_k`` with ``w_k = mean_j(P_j) / P_k``: the weights average 1 over
    the positions with a valid frame, so the loss has the scale of Eq. 5 but a lead whose
    persistence error is ten times smaller weighs ten times more. Positions without a valid
    frame get no weight.
    """
    mask = batch.target_mask
    x0 = reference_frames(batch.inputs, batch.input_times, batch.input_mask, batch.target_times)
    w = mask.to(torch.float32)  # [B, K]
    err = (out.frames.float() - batch.targets.float()).abs().flatten(2).mean(2)  # [B, K]
    pers = (x0[:, None].float() - batch.targets.float()).abs().flatten(2).mean(2).detach()
    n_k = w.sum(0)  # [K]
    has = n_k > 0
    l1_k = (err * w).sum(0) / n_k.clamp_min(1.0)
    p_k = ((pers * w).sum(0) / n_k.clamp_min(1.0)).clamp_min(1e-6)
    p_mean = (p_k * has).sum() / has.sum().clamp_min(1)
    weight_k = torch.where(has, p_mean / p_k, torch.zeros_like(p_k))
    return (weight_k * l1_k).sum() / has.sum().clamp_min(1)


def gradient_loss(out: ModelOutput, batch: Clip) -> Tensor:
    """L1 between the x and y finite differences of generated and true target frames.

    ``(|dx X_hat - dx X| mean + |dy X_hat - dy X| mean) / 2`` over valid targets; zero when
    the forecast has the truth's gradients everywhere, positive for a smoothed field.
    """
    pred, target, mask = out.frames, batch.targets, batch.target_mask
    dx = masked_l1(pred.diff(dim=-1), target.diff(dim=-1), mask)
    dy = masked_l1(pred.diff(dim=-2), target.diff(dim=-2), mask)
    return 0.5 * (dx + dy)


def target_differences(batch: Clip) -> tuple[Tensor, Tensor]:
    """``Delta X_si = X_si - X_si-1`` ``[B, K, C, H, W]`` and its validity mask ``[B, K]``.

    ``X_s0`` is :func:`~hurricane_ode.models.base.reference_frames` (always valid).
    """
    x0 = reference_frames(batch.inputs, batch.input_times, batch.input_mask, batch.target_times)
    prev = torch.cat([x0[:, None], batch.targets[:, :-1]], dim=1)
    prev_ok = torch.cat(
        [torch.ones_like(batch.target_mask[:, :1]), batch.target_mask[:, :-1]], dim=1
    )
    return batch.targets - prev, batch.target_mask & prev_ok


def difference_loss(out: ModelOutput, batch: Clip) -> Tensor | None:
    """Eq. 6: L1 between the predicted differences D and the true ones; None if D is absent."""
    if out.difference is None:
        return None
    delta, mask = target_differences(batch)
    return masked_l1(out.difference, delta, mask)


def fill_missing(frames: Tensor, batch: Clip) -> Tensor:
    """Generated frames with missing targets replaced by the (real) stored ones."""
    m = batch.target_mask[:, :, None, None, None]
    return torch.where(m, frames.to(batch.targets.dtype), batch.targets)


def sequence_pairs(
    batch: Clip, frames: Tensor, task: str = "extrapolation"
) -> tuple[Tensor, Tensor]:
    """Eq. 4 taken literally (not what the training loss uses; see :func:`sequence_clips`).

    Extrapolation: for each ``i`` the real window of ``T + 1`` frames of ``[inputs; targets]``
    ending at ``s_i`` and the same window with only its last frame generated; interpolation:
    as :func:`sequence_clips`. frames: generated ``[B, K, C, H, W]``. Returns ``(real, fake)``,
    each ``[B*K, T+1, C, H, W]`` for extrapolation or ``[B, T+K, C, H, W]`` for interpolation.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task '{task}'; expected one of {TASKS}")
    fake_targets = fill_missing(frames, batch)
    full = torch.cat([batch.inputs, batch.targets], dim=1)  # [B, T+K, C, H, W]
    b, t = batch.inputs.shape[:2]
    k = batch.targets.shape[1]
    if task == "extrapolation":
        # window i (0-based) covers full[i : T + i + 1]; last frame is target i.
        idx = torch.arange(k, device=full.device)[:, None] + torch.arange(t + 1, device=full.device)
        real = full[:, idx]  # [B, K, T+1, C, H, W]
        fake = torch.cat([real[:, :, :-1], fake_targets[:, :, None]], dim=2)
        return real.flatten(0, 1), fake.flatten(0, 1)
    times = torch.cat([batch.input_times, batch.target_times], dim=1)
    order = torch.argsort(times, dim=1, stable=True)
    rows = torch.arange(b, device=full.device)[:, None]
    fake_full = torch.cat([batch.inputs, fake_targets], dim=1)
    return full[rows, order], fake_full[rows, order]


def sequence_clips(batch: Clip, frames: Tensor, task: str = "extrapolation") -> tuple[Tensor, Tensor]:
    """Real and fake whole sequences ``[B, T+K, C, H, W]``, time-ordered (what the loss scores).

    Real = ``[inputs; targets]``; fake = ``[inputs; generated]`` (missing targets kept real).
    """
    if task not in TASKS:
        raise ValueError(f"unknown task '{task}'; expected one of {TASKS}")
    fake_targets = fill_missing(frames, batch)
    full = torch.cat([batch.inputs, batch.targets], dim=1)
    fake_full = torch.cat([batch.inputs, fake_targets], dim=1)
    if task == "extrapolation":
        return full, fake_full
    times = torch.cat([batch.input_times, batch.target_times], dim=1)
    order = torch.argsort(times, dim=1, stable=True)
    rows = torch.arange(full.shape[0], device=full.device)[:, None]
    return full[rows, order], fake_full[rows, order]


def _seq_scores(disc: nn.Module, seq: Tensor, batch: Clip, task: str) -> Tensor:
    """Scores of ``seq`` ``[N, T+K, ...]``: only the windows ending at the K targets for extrapolation."""
    if isinstance(disc, SequenceDiscriminator):
        return disc(seq, last=batch.targets.shape[1] if task == "extrapolation" else None)
    return disc(seq)


def lsgan_generator_loss(scores: Tensor) -> Tensor:
    """``mean((D(fake) - 1)^2)``: the generator wants fakes scored as real."""
    return (scores.float() - 1.0).pow(2).mean()


def lsgan_discriminator_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """``mean((D(real) - 1)^2) + mean(D(fake)^2)`` (Eq. 3/4)."""
    return (real_scores.float() - 1.0).pow(2).mean() + fake_scores.float().pow(2).mean()


def _frames_and_weights(frames: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """All ``B*K`` frames (missing ones zeroed) and their validity ``[B*K]``.

    No boolean-mask indexing: the shapes never depend on the mask, so nothing syncs
    with the host on an accelerator; missing frames get weight 0 in :func:`_frame_mean`.
    """
    m = mask.reshape(-1)
    flat = frames.flatten(0, 1)
    return torch.where(m[:, None, None, None], flat, torch.zeros((), dtype=flat.dtype, device=flat.device)), m


def _frame_mean(per_patch: Tensor, valid: Tensor) -> Tensor:
    """Mean over valid frames (and their patches) of ``per_patch`` ``[N, ...]`` (0 when none is valid)."""
    per = per_patch.float().flatten(1).mean(1)
    per = torch.where(valid, per, torch.zeros_like(per))
    return per.sum() / valid.sum().clamp_min(1).to(per.dtype)


def intensity_loss(out: ModelOutput, batch: Clip, channel: int) -> Tensor:
    """Mean over valid target frames of ``|min X_hat[channel] - min X[channel]|`` (spatial minima).

    Zero for a forecast whose deepest low is as deep as the truth's (wherever it lies).
    """
    if not 0 <= channel < out.frames.shape[2]:
        raise ValueError(f"intensity_loss: channel {channel} is not among the {out.frames.shape[2]} channels")
    pred = out.frames[:, :, channel].float().flatten(2).amin(dim=2)  # [B, K]
    true = batch.targets[:, :, channel].float().flatten(2).amin(dim=2)
    w = batch.target_mask.to(pred.dtype)
    return ((pred - true).abs() * w).sum() / w.sum().clamp_min(1.0)


def mask_loss(out: ModelOutput, batch: Clip) -> Tensor:
    """Mean of ``1 - M`` (the composition mask, 1 = the warped frame) over valid target frames.

    Raises ``ValueError`` for a model whose output has no mask.
    """
    per_frame = (1.0 - _composition_mask(out, "lambda_mask")).flatten(2).mean(2)  # [B, K]
    w = batch.target_mask.to(per_frame.dtype)
    return (per_frame * w).sum() / w.sum().clamp_min(1.0)


#: our optional terms (the paper has none): term name -> (its LossConfig weight, the term)
_EXTRA_TERMS: dict[str, tuple[str, Callable[[ModelOutput, Clip, LossConfig], Tensor]]] = {
    "grad": ("lambda_grad", lambda out, batch, w: gradient_loss(out, batch)),
    "intensity": ("lambda_intensity", lambda out, batch, w: intensity_loss(out, batch, w.intensity_channel)),
    "storm": ("lambda_storm", lambda out, batch, w: storm_loss(out, batch)),
    "mask": ("lambda_mask", lambda out, batch, w: mask_loss(out, batch)),
    "storm_mask": ("lambda_storm_mask", lambda out, batch, w: storm_mask_loss(out, batch)),
    "storm_flow": ("lambda_storm_flow", lambda out, batch, w: storm_flow_loss(out, batch)),
}


def generator_loss(
    out: ModelOutput,
    batch: Clip,
    weights: LossConfig,
    discriminators: nn.ModuleDict | Mapping[str, nn.Module] | None = None,
    task: str = "extrapolation",
) -> tuple[Tensor, dict[str, Tensor]]:
    """Eq. 7. Returns ``(total, terms)``; ``terms`` holds each unweighted, detached term.

    ``discriminators`` (``{"img": ..., "seq": ...}``) enables the adversarial terms;
    pass modules whose parameters need no gradient here (the trainer freezes them).
    """
    if weights.lead_weighting == "persistence":
        recon = lead_weighted_l1(out, batch)
    else:
        recon = reconstruction_loss(out, batch)
    total = recon
    terms: dict[str, Tensor] = {"recon": recon}
    diff = difference_loss(out, batch)
    if diff is not None:
        total = total + weights.lambda_diff * diff
        terms["diff"] = diff
    for name, (key, term) in _EXTRA_TERMS.items():
        if (weight := getattr(weights, key)) > 0:
            value = term(out, batch, weights)
            total = total + weight * value
            terms[name] = value
    if discriminators is not None:
        fake_img, valid = _frames_and_weights(out.frames, batch.target_mask)
        g_img = _frame_mean((discriminators["img"](fake_img).float() - 1.0).pow(2), valid)
        total = total + weights.lambda_img * g_img
        terms["g_img"] = g_img
        _, fake_seq = sequence_clips(batch, out.frames, task)
        g_seq = lsgan_generator_loss(_seq_scores(discriminators["seq"], fake_seq, batch, task))
        total = total + weights.lambda_seq * g_seq
        terms["g_seq"] = g_seq
    for name, value in out.aux_losses.items():
        if value.dim() != 0:
            raise ValueError(
                f"ModelOutput.aux_losses['{name}'] must be a scalar, got {tuple(value.shape)}"
            )
        total = total + value.float()
        terms[f"aux_{name}"] = value.float()
    terms["loss"] = total
    return total, {k: v.detach() for k, v in terms.items()}


def discriminator_loss(
    frames: Tensor,
    batch: Clip,
    discriminators: nn.ModuleDict | Mapping[str, nn.Module],
    task: str = "extrapolation",
) -> tuple[Tensor, dict[str, Tensor]]:
    """Discriminator side of Eq. 3 + Eq. 4 on *detached* generated ``frames`` ``[B, K, C, H, W]``.

    Returns ``(d_img + d_seq, {"d_img", "d_seq"})``.
    """
    frames = frames.detach()
    total = frames.new_zeros((), dtype=torch.float32)
    terms: dict[str, Tensor] = {}
    real_img, valid = _frames_and_weights(batch.targets, batch.target_mask)
    fake_img, _ = _frames_and_weights(frames.to(real_img.dtype), batch.target_mask)
    n = real_img.shape[0]
    scores = discriminators["img"](torch.cat([real_img, fake_img])).float()  # one call for both
    d_img = _frame_mean((scores[:n] - 1.0).pow(2), valid) + _frame_mean(scores[n:].pow(2), valid)
    total = total + d_img
    terms["d_img"] = d_img.detach()
    real_seq, fake_seq = sequence_clips(batch, frames, task)
    b = real_seq.shape[0]
    scores = _seq_scores(discriminators["seq"], torch.cat([real_seq, fake_seq.to(real_seq.dtype)]), batch, task)
    d_seq = lsgan_discriminator_loss(scores[:b], scores[b:])
    total = total + d_seq
    terms["d_seq"] = d_seq.detach()
    return total, terms
