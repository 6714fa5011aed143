"""Vid-ODE (Park et al., AAAI 2021): ODE-ConvGRU encoder, ODE decoder, flow / difference / mask.

Channel-agnostic: frames are ``[B, T, C, H, W]`` of any ``C``.

Time
    Clip times (hours for climate data) are multiplied by ``ModelConfig.time_scale``.
    The hidden state is zero until the first *observed* input of a sample (the
    paper's ``h_0 = 0``, placed at ``t_1`` since our clip origin is the first
    input, so the encoder ODE is skipped for the first interval). The latent ODEs
    are autonomous, so shifting every time of a clip by a constant changes nothing.
    Each sample keeps its own time grid: the loops run over intervals, never over
    samples (:func:`hurricane_ode.models.solver.integrate_intervals`).

Encoder (Eq. 1)
    ``h^-_i = ODESolve(f_theta, h_{i-1}, (t_{i-1}, t_i))``, ``h_i = ConvGRU(E(X_i), h^-_i)``.
    A masked (missing) frame keeps the ODE-evolved state and contributes no time
    point: the ODE runs straight from the last observed input to the next one, so
    neither the content nor the time stamp of a missing frame matters.

Decoder (Eq. 2)
    The decoder ODE ``f_phi`` starts from ``h_T`` at the last observed input time
    ``T``. It is first solved to the time ``t_ref`` of the reference frame
    ``X_{s_0}`` (:func:`~hurricane_ode.models.base.reference_frames`: the last
    observed input at or before the first query), giving ``h_{s_0}``; then through
    the sorted query times ``s_1 <= ... <= s_K``. For extrapolation ``t_ref = T``
    and ``h_{s_0} = h_T`` exactly as in the paper. For interpolation the solve to
    ``t_ref`` runs backward in time, so the hidden state and the frame that the
    first output warps describe the same instant; frames are then produced
    forward and autoregressively from ``X_{s_0}``. The official code does the same
    in spirit: its encoder runs backward (Latent-ODE style) so that its final state
    sits at the first input, and interpolation decodes forward from the first input
    frame (its "skip image"); we keep Eq. 1's forward encoder and reach the anchor
    with the decoder ODE instead.

    ``F, D, M = G(h_{s_i}, h_{s_{i-1}})``; ``F`` is a flow in pixels (x, y), ``M``
    passes through a sigmoid. The warp ``W(F, X)`` samples ``X`` bilinearly at
    ``pixel + F`` with border padding; the previous frame is ``X_{s_0}`` and then
    the previous *output* (paper; the official code chains the warp on the previous
    warped image instead).

Cost and precision
    The decoder ODE is solved once through ``t_ref`` and every query time
    (:func:`~hurricane_ode.models.solver.integrate_sequence`); G then runs once on all K
    state pairs as one batch, and only the composition Psi (which warps the previous
    output) is sequential. Under autocast the convolutions may run in bf16 while the
    latent state, the GRU update and the ODE integration stay float32 (an Euler increment
    of ~1e-3 |h| would mostly vanish in bf16).

D and the previous frame (``ModelConfig.composition``)
    ``paper`` (default): ``Psi = M * W(F, X_prev) + (1 - M) * D`` exactly as Eq. 2
    writes it, and the same ``D`` is what the difference loss compares with
    ``Delta X = X_{s_i} - X_{s_{i-1}}`` (Eq. 6). This is what the official code
    does (``pred_intermediates`` is fed to the composition and to the difference
    loss alike) even though it makes D play two roles.
    ``residual``: ``Psi = M * W(F, X_prev) + (1 - M) * (X_prev + D)``: D is
    a true difference in both places. ``ModelOutput.difference`` is ``D`` in both
    cases, i.e. always the quantity to compare with ``Delta X``.

Ablations (Table 4), from configuration alone
    (A) ODE-Conv: ``use_ode_encoder=False`` -- the observed frames (zeros where
        missing) and the mask are channel-concatenated into one Conv-Encoder that
        yields ``h_T`` directly (input times unused by the encoder); the decoder
        ODE remains.
    (B) ``use_warp=False, use_mask=False, adversarial=False``; (C) = (B) with
        ``adversarial=True``; (D) = (C) with ``use_warp=True``; (E) everything on.
    No warp means the identity warp (``W = X_prev``, ``flow`` is None); no mask
    means the additive combination ``W + D`` (``mask`` is None). So (B)/(C) output
    ``X_prev + D`` and (D) outputs ``W(F, X_prev) + D``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hurricane_ode.config import ModelConfig
from hurricane_ode.errors import ConfigError
from hurricane_ode.models.base import (
    MODES,
    ForecastModel,
    ModelInputs,
    ModelOutput,
    infer_mode,
    model_options,
    reference_frames,
    reference_index,
    register_model,
    stack_steps,
)
from hurricane_ode.models.convgru import ConvGRUCell
from hurricane_ode.models.motion import (
    WARP_INTERPOLATIONS,
    advection_offset,
    advection_offsets,
    advection_velocity,
    warp,
)
from hurricane_ode.models.odefunc import ConvODEFunc
from hurricane_ode.models.solver import integrate_intervals, integrate_sequence, step_counts
from hurricane_ode.models.validation import _last_observed_times

__all__ = ["VidODE", "warp", "compose", "compose_sequence", "MODES", "infer_mode", "reference_times"]

COMPOSITIONS = ("paper", "residual")
FLOW_PRIORS = ("none", "advection")
WARP_SOURCES = ("previous", "reference")
HEAD_INITS = ("default", "identity")
# E and G run on at most this many frames at a time: per-sample nets, so the same result, but the
# activations of 40 frames at full resolution overflow the caches (CPU: G fwd+bwd 25 % faster)
_CHUNK = 8


def _groups(channels: int) -> int:
    for g in (8, 4, 2):
        if channels % g == 0:
            return g
    return 1


def _conv_block(c_in: int, c_out: int, kernel: int = 3, stride: int = 1, padding: int = 1) -> nn.Sequential:
    # GroupNorm (not BatchNorm): a sample's output must not depend on the rest of its batch.
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, padding), nn.GroupNorm(_groups(c_out), c_out), nn.ReLU()
    )


class ConvEncoder(nn.Module):
    """E: ``[N, C_in, H, W]`` -> ``[N, out_channels, H / 2**n_down, W / 2**n_down]``."""

    def __init__(self, in_channels: int, base_channels: int, n_downsample: int, out_channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_block(in_channels, base_channels)]
        ch = base_channels
        for _ in range(n_downsample):
            layers.append(_conv_block(ch, 2 * ch, kernel=4, stride=2, padding=1))
            ch *= 2
        layers.append(nn.Conv2d(ch, out_channels, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.contiguous(memory_format=torch.channels_last))


class ConvDecoder(nn.Module):
    """G: ``[N, 2 * hidden, h, w]`` -> ``[N, out_channels, h * 2**n_up, w * 2**n_up]`` (raw, no activation)."""

    def __init__(self, hidden_channels: int, base_channels: int, n_upsample: int, out_channels: int) -> None:
        super().__init__()
        ch = base_channels * 2**n_upsample
        layers: list[nn.Module] = [_conv_block(2 * hidden_channels, ch)]
        for _ in range(n_upsample):
            layers += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)]
            layers.append(_conv_block(ch, ch // 2))
            ch //= 2
        layers.append(nn.Conv2d(ch, out_channels, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, h: Tensor, h_prev: Tensor) -> Tensor:
        return self.net(torch.cat([h, h_prev], dim=1).contiguous(memory_format=torch.channels_last))


def _observed(input_times: Tensor, input_mask: Tensor | None) -> Tensor:
    if input_mask is None:
        return torch.ones_like(input_times, dtype=torch.bool)
    return input_mask.bool()


def reference_times(input_times: Tensor, mask: Tensor, query_times: Tensor) -> Tensor:
    """``[B]``: time of the frame :func:`reference_frames` picks (same rule, same tolerance)."""
    return input_times.gather(1, reference_index(input_times, mask, query_times).unsqueeze(1)).squeeze(1)


def encoder_intervals(times: Tensor, mask: Tensor) -> Tensor:
    """``[B, T]``: the encoder ODE's interval before input ``i`` (0 for the first observed and masked ones).

    The ODE runs from the previous observed input to the next observed one (Eq. 1).
    """
    neg = torch.full_like(times, float("-inf"))
    running = torch.cummax(torch.where(mask, times, neg), dim=1).values
    prev = torch.cat([neg[:, :1], running[:, :-1]], dim=1)
    ok = mask & torch.isfinite(prev)
    return torch.where(ok, times - torch.where(ok, prev, times), torch.zeros_like(times))


def compose(
    raw: Tensor,
    x_prev: Tensor,
    config: ModelConfig,
    flow_bias: Tensor | None = None,
    warp_image: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """Split G's output ``[D | F | M]`` and apply Psi (Eq. 2) -> (frame, D, flow, mask).

    raw ``[B, C (+2 if use_warp) (+1 if use_mask), H, W]``, x_prev ``[B, C, H, W]``; shared by
    every model with Vid-ODE's decoder (VidODE, Vid-RNN). ``flow_bias`` ``[B, 2, H, W]`` is added
    to G's flow (the flow prior) and ``warp_image`` replaces ``x_prev`` as the image warped
    (``warp_source = reference``); the returned flow is the total one.
    """
    c = config.in_channels
    sizes = [c] + [2] * config.use_warp + [1] * config.use_mask
    rest = raw.shape[1] - sum(sizes)
    # split, not slices: one backward pass instead of a zero-filled full-size gradient per slice
    parts = list(raw.split(sizes + [rest] * (rest > 0), dim=1))
    d = parts.pop(0)
    flow = None
    warped = x_prev
    if config.use_warp:
        flow = parts.pop(0)
        if flow_bias is not None:
            flow = flow + flow_bias
        warped = warp(x_prev if warp_image is None else warp_image, flow, config.warp_interpolation)
    filler = x_prev + d if config.composition == "residual" else d
    if config.use_mask:
        m = torch.sigmoid(parts.pop(0))
        return m * warped + (1 - m) * filler, d, flow, m
    return warped + d, d, flow, None


def compose_sequence(
    raw: Tensor, x0: Tensor, config: ModelConfig, prior: Tensor | None = None
) -> ModelOutput:
    """Apply Psi (Eq. 2) autoregressively from ``x0`` over K outputs of G -> :class:`ModelOutput`.

    raw ``[B, K, n_out, H, W]`` (G already run on all K state pairs at once), x0 ``[B, C, H, W]``.
    Only this composition is sequential: output ``k`` warps output ``k - 1`` (paper), or, with
    ``config.warp_source = "reference"``, ``x0`` by the flow accumulated over steps ``1..k``.
    ``prior`` ``[B, K, 2, H, W]`` (or None) is the flow prior's offset added to G's flow.
    """
    steps = []
    x_prev = x0
    by_reference = config.use_warp and config.warp_source == "reference"
    learned = torch.zeros_like(x0[:, :2])  # the learned flow so far (reference warping only)
    raws = raw.unbind(1)  # unbind, not raw[:, k]: one stack in the backward pass, no zero fills
    priors = prior.unbind(1) if prior is not None else [None] * len(raws)
    for k, p in enumerate(priors):
        if by_reference:
            bias = learned if p is None else learned + p
            x_prev, d, flow, m = compose(raws[k], x_prev, config, flow_bias=bias, warp_image=x0)
            assert flow is not None  # use_warp: compose returns the flow
            learned = flow if p is None else flow - p
        else:
            x_prev, d, flow, m = compose(raws[k], x_prev, config, flow_bias=p)
        steps.append((x_prev, d, flow, m))
    return stack_steps(steps)


@register_model("vid_ode")
class VidODE(ForecastModel):
    """Vid-ODE; see the module docstring for the model, its time origin and its ablations.

    ``forward(inputs, input_times, query_times, input_mask=None, mode=None) -> ModelOutput``
    (validation and time scaling: :class:`~hurricane_ode.models.base.ForecastModel`).

    Parameters
    ----------
    config
        Architecture, ablation switches and solver (default: the :class:`ModelConfig` defaults).
    **options
        Any :class:`ModelConfig` field by keyword, replacing ``config``'s (``VidODE(hidden_channels=64)``).
    """

    model_name = "VidODE"
    downsamples = False  # any frame size: predict() pads to a multiple of 2**n_downsample

    def __init__(self, config: ModelConfig | None = None, **options: Any) -> None:
        config = model_options(config, options, "vid_ode")
        super().__init__(config)
        c, hid = config.in_channels, config.hidden_channels
        if c < 1 or hid < 1 or config.base_channels < 1 or config.n_downsample < 0:
            raise ConfigError(
                "ModelConfig: in_channels, hidden_channels, base_channels must be >= 1 and "
                f"n_downsample >= 0, got {c}, {hid}, {config.base_channels}, {config.n_downsample}"
            )
        if config.composition not in COMPOSITIONS:
            raise ConfigError(
                f"ModelConfig.composition must be one of {COMPOSITIONS}, got '{config.composition}'"
            )
        if config.time_scale <= 0:
            raise ConfigError(f"ModelConfig.time_scale must be > 0, got {config.time_scale}")
        self.solver = config.solver
        if config.use_ode_encoder:
            self.encoder = ConvEncoder(c, config.base_channels, config.n_downsample, hid)
            self.gru = ConvGRUCell(hid, hid)
            self.f_theta = ConvODEFunc(hid, n_layers=config.odefunc_layers)
        else:
            if config.n_inputs < 1:
                raise ConfigError(f"ModelConfig.n_inputs must be >= 1, got {config.n_inputs}")
            # frames and their observed-mask channels, concatenated
            self.encoder = ConvEncoder(config.n_inputs * (c + 1), config.base_channels, config.n_downsample, hid)
        self.f_phi = ConvODEFunc(hid, n_layers=config.odefunc_layers)
        self.n_out = c + (2 if config.use_warp else 0) + (1 if config.use_mask else 0)
        self.decoder = ConvDecoder(hid, config.base_channels, config.n_downsample, self.n_out)
        for name, value, allowed in (
            ("flow_prior", config.flow_prior, FLOW_PRIORS),
            ("warp_source", config.warp_source, WARP_SOURCES),
            ("head_init", config.head_init, HEAD_INITS),
            ("warp_interpolation", config.warp_interpolation, WARP_INTERPOLATIONS),
        ):
            if value not in allowed:
                raise ConfigError(f"ModelConfig.{name} must be one of {allowed}, got '{value}'")
        if config.head_init == "identity":
            last = cast(nn.Conv2d, self.decoder.net[-1])
            bias = cast(Tensor, last.bias)  # the head convolution has a bias
            nn.init.zeros_(last.weight)
            nn.init.zeros_(bias)
            if config.use_mask:
                with torch.no_grad():
                    bias[-1] = config.mask_bias_init

    def fixed_inputs(self) -> int | None:
        """The ODE-Conv encoder (ablation A) needs exactly ``n_inputs`` frames."""
        return None if self.config.use_ode_encoder else self.config.n_inputs

    # ------------------------------------------------------------------ parts
    def encode(self, inputs: Tensor, input_times: Tensor, mask: Tensor) -> Tensor:
        """``h_T`` ``[B, hidden, h, w]`` (float32) at the last observed input time (clip-unit times)."""
        b, t, c, h, w = inputs.shape
        x = torch.where(mask.view(b, t, 1, 1, 1), inputs, torch.zeros((), dtype=inputs.dtype, device=inputs.device))
        if not self.config.use_ode_encoder:
            m = mask.to(inputs.dtype).view(b, t, 1, 1, 1).expand(b, t, 1, h, w)
            return self.encoder(torch.cat([x, m], dim=2).reshape(b, t * (c + 1), h, w)).float()
        emb = torch.cat([self.encoder(part) for part in x.reshape(b * t, c, h, w).split(_CHUNK)])
        embs = emb.view(b, t, *emb.shape[1:]).unbind(1)
        # the latent state and its ODE stay float32 under autocast (only the convs run in bf16)
        dts = encoder_intervals(input_times, mask) * self.config.time_scale
        steps = step_counts(dts, self.solver)  # one host copy per forward, not one per interval
        hstate = emb.new_zeros(b, self.config.hidden_channels, *emb.shape[-2:], dtype=torch.float32)
        memory = self.step_memory("encoder")  # each interval starts from the last one's step
        for i in range(t):
            h_ode = integrate_intervals(self.f_theta, hstate, dts[:, i], self.solver, steps[:, i], memory)
            # the state before the first input is h_0 = 0 for every sample: the GRU skips its h half
            h_gru = self.gru(embs[i], None if i == 0 else h_ode).float()
            hstate = torch.where(mask[:, i].view(b, 1, 1, 1), h_gru, h_ode)
        return hstate

    def decode_states(self, h_last: Tensor, x: ModelInputs) -> Tensor:
        """``[B, K + 1, hidden, h, w]``: ``h_{s_0}`` then the decoder state at every query time.

        One call of the solver for the whole decoder (:func:`integrate_sequence`).
        """
        mask = x.mask
        t_last = _last_observed_times(x.input_times, mask)
        t_ref = reference_times(x.input_times, mask, x.query_times)
        knots = torch.cat([t_last[:, None], t_ref[:, None], x.query_times], dim=1)
        dts = (knots[:, 1:] - knots[:, :-1]) * self.config.time_scale  # [B, K + 1]
        return integrate_sequence(self.f_phi, h_last, dts, self.solver, memory=self.step_memory("decoder"))

    def prior_offsets(self, x: ModelInputs) -> Tensor | None:
        """``[B, K, 2, H, W]``: the flow prior's offset at each output, or None (paper).

        ``warp_source = reference``: the offset carrying the reference frame to each query time;
        ``previous``: the offset carrying output ``k - 1`` to output ``k``.
        """
        cfg = self.config
        if not (cfg.use_warp and cfg.flow_prior == "advection"):
            return None
        b, k = x.query_times.shape
        velocity = advection_velocity(x.inputs, x.input_times, x.mask, max_speed=cfg.flow_prior_max_speed)
        t_ref = reference_times(x.input_times, x.mask, x.query_times)
        if cfg.warp_source == "reference":
            return advection_offsets(velocity, (x.query_times - t_ref[:, None]).float()).to(x.inputs.dtype)
        knots = torch.cat([t_ref[:, None], x.query_times], dim=1)
        steps = (knots[:, 1:] - knots[:, :-1]).float()
        offsets = advection_offset(velocity.repeat_interleave(k, dim=0), steps.reshape(-1))
        return offsets.unflatten(0, (b, k)).to(x.inputs.dtype)

    def predict(self, x: ModelInputs) -> ModelOutput:
        """Any frame size: frames are padded (replicate) to a multiple of ``2**n_downsample``
        for the encoder/decoder and the outputs cropped back, so whole basins of any shape run."""
        h, w = x.inputs.shape[-2:]
        f = 2**self.config.n_downsample
        ph, pw = (-h) % f, (-w) % f
        if not (ph or pw):
            return self._predict(x)
        b, t = x.inputs.shape[:2]
        padded = F.pad(x.inputs.flatten(0, 1), (0, pw, 0, ph), mode="replicate").unflatten(0, (b, t))
        out = self._predict(dataclasses.replace(x, inputs=padded))
        crop: dict[str, Any] = {k: getattr(out, k)[..., :h, :w] if getattr(out, k) is not None else None
                for k in ("frames", "difference", "flow", "mask")}  # fmt: skip
        return dataclasses.replace(out, **crop)

    def _predict(self, x: ModelInputs) -> ModelOutput:
        """Encoder (Eq. 1), decoder ODE to every query, G on all K state pairs at once, Psi (Eq. 2)."""
        h_last = self.encode(x.inputs, x.input_times, x.mask)
        states = self.decode_states(h_last, x)  # [B, K + 1, ...]
        b, k = x.query_times.shape
        pairs = zip(states[:, 1:].flatten(0, 1).split(_CHUNK), states[:, :-1].flatten(0, 1).split(_CHUNK))
        raw = torch.cat([self.decoder(h, h_prev) for h, h_prev in pairs]).unflatten(0, (b, k))
        x0 = reference_frames(x.inputs, x.input_times, x.mask, x.query_times)
        raw = raw.to(x0.dtype) if raw.dtype != x0.dtype else raw
        return compose_sequence(raw, x0, self.config, self.prior_offsets(x))


def build_vid_ode(config: ModelConfig) -> VidODE:
    """Factory kept for callers of the old registry: ``VidODE.from_config(config)``."""
    return VidODE(config)
