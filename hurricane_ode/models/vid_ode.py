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

import torch
from torch import Tensor, nn

from hurricane_ode.config import ModelConfig
from hurricane_ode.models.base import ModelOutput, reference_frames, register_model
from hurricane_ode.models.convgru import ConvGRUCell
from hurricane_ode.models.motion import advection_offset, advection_velocity
from hurricane_ode.models.odefunc import ConvODEFunc
from hurricane_ode.models.solver import integrate_intervals

__all__ = ["VidODE", "warp", "compose", "MODES", "infer_mode"]

MODES = ("extrapolation", "interpolation")
COMPOSITIONS = ("paper", "residual")
FLOW_PRIORS = ("none", "advection")
WARP_SOURCES = ("previous", "reference")
HEAD_INITS = ("default", "identity")
_EPS = 1e-6


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
        return self.net(x)


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
        return self.net(torch.cat([h, h_prev], dim=1))


def warp(image: Tensor, flow: Tensor) -> Tensor:
    """Bilinear backward warp: ``out[y, x] = image[y + flow_y, x + flow_x]`` with border padding.

    ``image`` ``[B, C, H, W]``, ``flow`` ``[B, 2, H, W]`` in pixels (channel 0 = x,
    1 = y). Equivalent to ``grid_sample(..., align_corners=True, padding_mode="border")``
    but computed in pixel coordinates, so zero flow returns ``image`` bit for bit.
    """
    b, c, h, w = image.shape
    if flow.shape != (b, 2, h, w):
        raise ValueError(f"warp: flow must be {(b, 2, h, w)}, got {tuple(flow.shape)}")
    coords = torch.float64 if flow.dtype == torch.float64 else torch.float32  # bf16 can't index pixels
    flow = flow.to(coords)
    ys = torch.arange(h, device=image.device, dtype=coords).view(1, h, 1)
    xs = torch.arange(w, device=image.device, dtype=coords).view(1, 1, w)
    px = (xs + flow[:, 0]).clamp(0, w - 1)
    py = (ys + flow[:, 1]).clamp(0, h - 1)
    x0 = px.detach().floor()
    y0 = py.detach().floor()
    wx = (px - x0).unsqueeze(1).to(image.dtype)
    wy = (py - y0).unsqueeze(1).to(image.dtype)
    x0 = x0.long()
    y0 = y0.long()
    x1 = (x0 + 1).clamp(max=w - 1)
    y1 = (y0 + 1).clamp(max=h - 1)
    flat = image.reshape(b, c, h * w)

    def gather(yy: Tensor, xx: Tensor) -> Tensor:
        idx = (yy * w + xx).view(b, 1, h * w).expand(b, c, h * w)
        return flat.gather(2, idx).view(b, c, h, w)

    top = gather(y0, x0) * (1 - wx) + gather(y0, x1) * wx
    bottom = gather(y1, x0) * (1 - wx) + gather(y1, x1) * wx
    return top * (1 - wy) + bottom * wy


def _observed(input_times: Tensor, input_mask: Tensor | None) -> Tensor:
    if input_mask is None:
        return torch.ones_like(input_times, dtype=torch.bool)
    return input_mask.bool()


def _last_observed_times(input_times: Tensor, mask: Tensor) -> Tensor:
    """``[B]``: time of the last observed input."""
    pos = torch.arange(input_times.shape[1], device=input_times.device).expand_as(input_times)
    idx = torch.where(mask, pos, torch.full_like(pos, -1)).max(dim=1).values
    return input_times.gather(1, idx.clamp(min=0).unsqueeze(1)).squeeze(1)


def _first_observed_times(input_times: Tensor, mask: Tensor) -> Tensor:
    t = input_times.shape[1]
    pos = torch.arange(t, device=input_times.device).expand_as(input_times)
    idx = torch.where(mask, pos, torch.full_like(pos, t)).min(dim=1).values
    return input_times.gather(1, idx.clamp(max=t - 1).unsqueeze(1)).squeeze(1)


def reference_times(input_times: Tensor, mask: Tensor, query_times: Tensor) -> Tensor:
    """``[B]``: time of the frame :func:`reference_frames` picks (same rule, same tolerance)."""
    b, t = input_times.shape
    before = mask & (input_times <= query_times[:, :1] + 1e-6)
    pos = torch.arange(t, device=input_times.device).expand(b, t)
    last_before = torch.where(before, pos, torch.full_like(pos, -1)).max(dim=1).values
    first_obs = torch.where(mask, pos, torch.full_like(pos, t)).min(dim=1).values
    idx = torch.where(last_before >= 0, last_before, first_obs).clamp(0, t - 1)
    return input_times.gather(1, idx.unsqueeze(1)).squeeze(1)


def infer_mode(input_times: Tensor, query_times: Tensor, input_mask: Tensor | None = None) -> str | None:
    """``extrapolation`` if every query is at or after the last observed input,
    ``interpolation`` if every query lies within the observed input range, else None (mixed)."""
    mask = _observed(input_times, input_mask)
    last = _last_observed_times(input_times, mask).unsqueeze(1)
    first = _first_observed_times(input_times, mask).unsqueeze(1)
    if bool((query_times >= last - _EPS).all()):
        return "extrapolation"
    if bool(((query_times >= first - _EPS) & (query_times <= last + _EPS)).all()):
        return "interpolation"
    return None


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
    d, k = raw[:, :c], c
    flow = None
    warped = x_prev
    if config.use_warp:
        flow = raw[:, k : k + 2]
        if flow_bias is not None:
            flow = flow + flow_bias
        k += 2
        warped = warp(x_prev if warp_image is None else warp_image, flow)
    filler = x_prev + d if config.composition == "residual" else d
    if config.use_mask:
        m = torch.sigmoid(raw[:, k : k + 1])
        return m * warped + (1 - m) * filler, d, flow, m
    return warped + d, d, flow, None


class VidODE(nn.Module):
    """Vid-ODE; see the module docstring for the model, its time origin and its ablations.

    ``forward(inputs, input_times, query_times, input_mask=None, mode=None) -> ModelOutput``.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c, hid = config.in_channels, config.hidden_channels
        if c < 1 or hid < 1 or config.base_channels < 1 or config.n_downsample < 0:
            raise ValueError(
                "ModelConfig: in_channels, hidden_channels, base_channels must be >= 1 and "
                f"n_downsample >= 0, got {c}, {hid}, {config.base_channels}, {config.n_downsample}"
            )
        if config.composition not in COMPOSITIONS:
            raise ValueError(
                f"ModelConfig.composition must be one of {COMPOSITIONS}, got '{config.composition}'"
            )
        if config.time_scale <= 0:
            raise ValueError(f"ModelConfig.time_scale must be > 0, got {config.time_scale}")
        self.config = config
        self.solver = config.solver
        if config.use_ode_encoder:
            self.encoder = ConvEncoder(c, config.base_channels, config.n_downsample, hid)
            self.gru = ConvGRUCell(hid, hid)
            self.f_theta = ConvODEFunc(hid, n_layers=config.odefunc_layers)
        else:
            if config.n_inputs < 1:
                raise ValueError(f"ModelConfig.n_inputs must be >= 1, got {config.n_inputs}")
            # frames and their observed-mask channels, concatenated
            self.encoder = ConvEncoder(config.n_inputs * (c + 1), config.base_channels, config.n_downsample, hid)
        self.f_phi = ConvODEFunc(hid, n_layers=config.odefunc_layers)
        self.n_out = c + (2 if config.use_warp else 0) + (1 if config.use_mask else 0)
        self.decoder = ConvDecoder(hid, config.base_channels, config.n_downsample, self.n_out)
        for name, value, allowed in (
            ("flow_prior", config.flow_prior, FLOW_PRIORS),
            ("warp_source", config.warp_source, WARP_SOURCES),
            ("head_init", config.head_init, HEAD_INITS),
        ):
            if value not in allowed:
                raise ValueError(f"ModelConfig.{name} must be one of {allowed}, got '{value}'")
        if config.head_init == "identity":
            last = self.decoder.net[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            if config.use_mask:
                with torch.no_grad():
                    last.bias[-1] = config.mask_bias_init

    # ------------------------------------------------------------------ checks
    def _validate(
        self, inputs: Tensor, input_times: Tensor, query_times: Tensor, mask: Tensor, mode: str | None
    ) -> str | None:
        cfg = self.config
        if inputs.dim() != 5:
            raise ValueError(f"VidODE: inputs must be [B, T, C, H, W], got shape {tuple(inputs.shape)}")
        b, t, c, h, w = inputs.shape
        if c != cfg.in_channels:
            raise ValueError(f"VidODE: inputs have {c} channels, ModelConfig.in_channels is {cfg.in_channels}")
        f = 2**cfg.n_downsample
        if h % f or w % f:
            raise ValueError(
                f"VidODE: frame size {h}x{w} must be divisible by 2**n_downsample = {f}"
            )
        if input_times.shape != (b, t):
            raise ValueError(f"VidODE: input_times must be [B, T] = {(b, t)}, got {tuple(input_times.shape)}")
        if query_times.dim() != 2 or query_times.shape[0] != b or query_times.shape[1] < 1:
            raise ValueError(f"VidODE: query_times must be [B={b}, K>=1], got {tuple(query_times.shape)}")
        if mask.shape != (b, t):
            raise ValueError(f"VidODE: input_mask must be [B, T] = {(b, t)}, got {tuple(mask.shape)}")
        if not bool(mask.any(dim=1).all()):
            raise ValueError("VidODE: every sample needs at least one observed input frame (input_mask)")
        if not cfg.use_ode_encoder and t != cfg.n_inputs:
            raise ValueError(
                f"VidODE (ODE-Conv encoder): expects T = ModelConfig.n_inputs = {cfg.n_inputs} inputs, got {t}"
            )
        if not (torch.isfinite(query_times).all() and torch.isfinite(input_times[mask]).all()):
            raise ValueError("VidODE: input_times (observed) and query_times must be finite")
        if bool((query_times[:, 1:] < query_times[:, :-1]).any()):
            raise ValueError("VidODE: query_times must be sorted ascending within each sample")
        # observed input times strictly increasing
        t_obs = torch.where(mask, input_times, torch.full_like(input_times, float("-inf")))
        running = torch.cummax(t_obs, dim=1).values
        if bool((mask[:, 1:] & (input_times[:, 1:] <= running[:, :-1])).any()):
            raise ValueError("VidODE: observed input_times must be strictly increasing within each sample")
        if mode is None:
            return infer_mode(input_times, query_times, mask)
        if mode not in MODES:
            raise ValueError(f"VidODE: mode must be one of {MODES} or None, got '{mode}'")
        last = _last_observed_times(input_times, mask).unsqueeze(1)
        first = _first_observed_times(input_times, mask).unsqueeze(1)
        if mode == "extrapolation" and not bool((query_times >= last - _EPS).all()):
            raise ValueError(
                "VidODE: mode 'extrapolation' needs every query time at or after the sample's last "
                "observed input time"
            )
        if mode == "interpolation" and not bool(
            ((query_times >= first - _EPS) & (query_times <= last + _EPS)).all()
        ):
            raise ValueError(
                "VidODE: mode 'interpolation' needs every query time within the sample's observed "
                "input time range [first, last]"
            )
        return mode

    # ------------------------------------------------------------------ parts
    def encode(self, inputs: Tensor, input_times: Tensor, mask: Tensor) -> Tensor:
        """``h_T`` ``[B, hidden, h, w]`` at the last observed input time."""
        b, t, c, h, w = inputs.shape
        x = torch.where(mask.view(b, t, 1, 1, 1), inputs, torch.zeros((), dtype=inputs.dtype, device=inputs.device))
        if not self.config.use_ode_encoder:
            m = mask.to(inputs.dtype).view(b, t, 1, 1, 1).expand(b, t, 1, h, w)
            return self.encoder(torch.cat([x, m], dim=2).reshape(b, t * (c + 1), h, w))
        emb = self.encoder(x.reshape(b * t, c, h, w))
        emb = emb.view(b, t, *emb.shape[1:])
        times = input_times * self.config.time_scale
        hstate = emb.new_zeros(b, self.config.hidden_channels, *emb.shape[-2:])
        t_prev = times[:, 0]
        seen = torch.zeros(b, dtype=torch.bool, device=inputs.device)
        for i in range(t):
            m = mask[:, i]
            dt = torch.where(m & seen, times[:, i] - t_prev, torch.zeros_like(t_prev))
            h_ode = integrate_intervals(self.f_theta, hstate, dt, self.solver)
            h_gru = self.gru(emb[:, i], h_ode)
            hstate = torch.where(m.view(b, 1, 1, 1), h_gru, h_ode)
            t_prev = torch.where(m, times[:, i], t_prev)
            seen = seen | m
        return hstate

    def forward(
        self,
        inputs: Tensor,
        input_times: Tensor,
        query_times: Tensor,
        input_mask: Tensor | None = None,
        mode: str | None = None,
    ) -> ModelOutput:
        """Frames at ``query_times``.

        inputs ``[B, T, C, H, W]``; input_times ``[B, T]`` and query_times ``[B, K]``
        (ascending per sample) in clip units (hours) relative to the clip origin;
        input_mask ``[B, T]`` bool (None = all observed); mode ``extrapolation`` /
        ``interpolation`` (checked against the times) or None (inferred; mixed
        queries are allowed then). Returns frames/difference ``[B, K, C, H, W]``,
        flow ``[B, K, 2, H, W]`` (pixels) or None, mask ``[B, K, 1, H, W]`` or None.
        """
        mask = _observed(input_times, input_mask).to(inputs.device)
        input_times = input_times.to(inputs.dtype)
        query_times = query_times.to(inputs.dtype)
        self._validate(inputs, input_times, query_times, mask, mode)
        scale = self.config.time_scale

        h_last = self.encode(inputs, input_times, mask)
        t_last = _last_observed_times(input_times, mask)
        t_ref = reference_times(input_times, mask, query_times)
        x_prev = reference_frames(inputs, input_times, mask, query_times)

        # h_{s_0}: the decoder state at the reference frame's time (= h_T for extrapolation)
        h_prev = integrate_intervals(self.f_phi, h_last, (t_ref - t_last) * scale, self.solver)
        t_prev = t_ref
        cfg = self.config
        velocity = None
        if cfg.use_warp and cfg.flow_prior == "advection":
            velocity = advection_velocity(inputs, input_times, mask).to(inputs.dtype)
        x_ref = x_prev
        learned = torch.zeros_like(x_ref[:, :2]) if cfg.use_warp else None
        frames, diffs, flows, masks = [], [], [], []
        for k in range(query_times.shape[1]):
            s = query_times[:, k]
            h_cur = integrate_intervals(self.f_phi, h_prev, (s - t_prev) * scale, self.solver)
            raw = self.decoder(h_cur, h_prev)
            bias, image = None, None
            if cfg.use_warp and cfg.warp_source == "reference":
                prior = advection_offset(velocity, s - t_ref) if velocity is not None else 0.0
                bias, image = learned + prior, x_ref
            elif velocity is not None:
                bias = advection_offset(velocity, s - t_prev)
            x_prev, d, flow, m = compose(raw, x_prev, cfg, flow_bias=bias, warp_image=image)
            if image is not None:
                learned = flow - prior
            frames.append(x_prev)
            diffs.append(d)
            flows.append(flow)
            masks.append(m)
            h_prev, t_prev = h_cur, s
        return ModelOutput(
            frames=torch.stack(frames, 1),
            difference=torch.stack(diffs, 1),
            flow=torch.stack(flows, 1) if self.config.use_warp else None,
            mask=torch.stack(masks, 1) if self.config.use_mask else None,
        )


@register_model("vid_ode")
def build_vid_ode(config: ModelConfig) -> VidODE:
    """Registry factory: ``build_model(ModelConfig(name="vid_ode"))``."""
    return VidODE(config)
