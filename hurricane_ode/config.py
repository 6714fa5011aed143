"""Typed configuration: the one place where defaults live.

Every section is a dataclass with documented defaults. A YAML file maps onto :class:`Config`
section by section; an unknown key is an error that names the key and the section, so a typo
never silently falls back to a default. Defaults follow the paper (Park et al., AAAI 2021) where
it gives a number: Adamax, lr 1e-3 decayed by 0.99 per epoch, batch size 8, lambda_diff = 1.0,
lambda_img = lambda_seq = 0.003, 5 inputs with gaps up to 48 h, 5 outputs at 3-hourly steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hurricane_ode._config_checks import validate_config
from hurricane_ode._yaml import build_dataclass, read_yaml
from hurricane_ode.errors import ConfigError

__all__ = ["DataConfig", "SamplingConfig", "ModelConfig", "SolverConfig", "LossConfig", "TrainConfig", "Config",
           "load_config", "config_from_dict", "config_to_dict", "validate_config", "RUNTIME_KEYS",
           "runtime_free_differences"]  # fmt: skip

#: config keys that only affect how a run is executed or logged, not what it learns: they may
#: differ between a run and its resume, and between a cached model and a request for it
RUNTIME_KEYS = frozenset({
    "train.max_steps", "train.epochs", "train.progress", "train.output_dir", "train.device",
    "train.log_every", "train.checkpoint_every", "train.keep_checkpoints", "data.num_workers",
    "data.path", "train.validate_every", "train.best_metric",
})  # fmt: skip


@dataclass
class SamplingConfig:
    """How clips are cut from a regular time series of frames.

    Times are in hours. ``frame_interval_h`` is the spacing of the stored
    frames (3 h for CAM5 history files).
    """

    n_inputs: int = 5
    """Number of input frames per clip (paper: 5)."""
    n_targets: int = 5
    """Number of target frames per clip (paper: 5 for extrapolation)."""
    task: str = "extrapolation"
    """``extrapolation`` (targets after the last input) or ``interpolation`` (targets between inputs)."""
    frame_interval_h: float = 3.0
    """Spacing of the stored frames and of the regular target steps, hours."""
    max_gap_h: float = 48.0
    """Largest allowed gap between consecutive input frames, hours (paper: 48 h)."""
    sampling_rate: float = 0.5
    """Fraction of the stored frames that are candidates for input (1.0 = every frame, i.e. regular)."""
    irregular: bool = True
    """Draw input times at random (True) or evenly spaced at ``sampling_rate`` (False)."""
    cyclones_only: bool = False
    """Keep only windows where a cyclone is present (tracks CSV or PSL threshold)."""
    psl_threshold_pa: float = 99500.0
    """PSL below this marks a cyclone when no tracks file is given, Pa."""
    tracks: str | None = None
    """Path of a tracks CSV (``storm_id,time,lat,lon,...``) used with ``cyclones_only``."""
    cyclone_variable: str = "PSL"
    """Store variable whose tile minimum marks a cyclone (compared with ``psl_threshold_pa``)."""
    input_drop_prob: float = 0.0
    """Probability that each input frame is masked out as missing (at least one is kept)."""


@dataclass
class DataConfig:
    """Where training clips come from."""

    source: str = "tiles"
    """Registered clip source: ``tiles`` (a Zarr tile store), ``bouncing_balls``, ``video_folder`` ..."""
    path: str | None = None
    """Tile store / dataset root (required for ``tiles``: ``hurricane-ode prepare`` writes one)."""
    basin: str = "natl"
    """Basin group inside the tile store."""
    variables: list[str] = field(default_factory=lambda: ["U850", "V850", "PSL"])
    """Channels, in order."""
    train_fraction: float = 0.8
    """Leading fraction of the time axis used for training; the rest is held out."""
    clips_per_epoch: int = 256
    """Clips drawn per epoch (clips are sampled at random positions)."""
    num_workers: int = 0
    """DataLoader worker processes."""
    cache: bool = True
    """Load the basin's frames into memory once (True) or read each clip lazily (False)."""
    image_size: tuple[int, int] | None = None
    """Video sources: frame size (H, W) after centre crop + resize; ``None`` = source default
    (128 x 128 for real video as in the paper, 32 x 32 for ``bouncing_balls``)."""
    channels: int | None = None
    """Video sources: 1 (grey) or 3 (RGB); ``None`` = source default (RGB video, grey balls)."""
    augment: bool = True
    """Video sources, train split only: random horizontal flip + rotation in [-10, 10] degrees."""
    n_videos: int | None = None
    """Generated video sources (``bouncing_balls``): videos per split; ``None`` = 1000 train / 50 test."""
    paths: list[str] = field(default_factory=list)
    """``tiles``: several tile stores combined into one training set (each ``STORE`` or
    ``STORE::BASIN``; default basin ``basin``); statistics pooled over their train periods;
    validation uses the first. Empty: ``path`` alone."""
    crop: tuple[int, int] | None = None
    """``tiles``, train split: random ``(H, W)`` crops of the basin (e.g. 64 x 64; the paper
    trains on 64 x 64 sub-images); ``None``: whole basins. Validation always sees whole basins."""
    storm_crop_prob: float = 0.0
    """``tiles`` with ``crop``: probability that a crop is centred on a storm (track points of
    ``sampling.tracks``, else the PSL minimum below ``sampling.psl_threshold_pa``)."""
    storm_sigma_km: float = 0.0
    """``tiles`` with tracks, train split: clips carry storm maps (a Gaussian of this width around each
    track point, and each storm's motion) for ``loss.lambda_storm*``; 0: none."""
    validation_path: str | None = None
    """Validation during training (``train.validate_every`` > 0): a tile store (``STORE[::BASIN]``,
    whole basins, every frame; a world kept out of training) normalised with the training
    statistics; ``...@tracks.csv``: hindcasts scored with the verification metrics and those
    best tracks (NMSE, PSL RMSE, POD, FAR, track error). ``None``: the ``test`` split (whole basins)."""
    validation_windows: int = 16
    """Windows (or, with tracks, initial times) scored at each validation (evenly spaced, the same every time)."""
    validation_irregular: bool | None = None
    """``sampling.irregular`` of the validation clips; ``None`` = as ``sampling``. E.g. train on
    irregular input times and validate on the regular inputs of the evaluation protocol."""
    validation_seed: int | None = None
    """Without ``validation_path``: validation uses the ``test`` split drawn with this seed (``None`` =
    ``train.seed + 1``; ``train.seed`` is refused). For generated sources (``bouncing_balls``) the
    seed picks the videos: neither the training nor the test videos."""
    reverse_inputs: bool = True
    """Video sources, train split only: play each clip backward with probability 1/2 (the paper's
    reversed-input augmentation; time-reversed motion is still valid motion)."""
    interpolation_protocol: str = "paper"
    """Video sources with ``sampling.task = interpolation``: ``paper`` trains the model to reconstruct
    its observed input frames (the in-between frames are only scored, on the test split);
    ``supervised`` trains on the in-between frames themselves (task name ``interpolation_supervised``)."""
    sampling: SamplingConfig = field(default_factory=SamplingConfig)


@dataclass
class SolverConfig:
    """ODE solver options, passed through to :func:`torchdiffeq.odeint`."""

    method: str = "euler"
    """``euler``, ``rk4`` (fixed step) or ``dopri5`` (adaptive)."""
    step_size: float | None = 0.5
    """Fixed-step size in model time units (ignored by adaptive methods). ``None``: one step per interval."""
    rtol: float = 1e-3
    """Relative tolerance (adaptive methods)."""
    atol: float = 1e-4
    """Absolute tolerance (adaptive methods)."""
    adjoint: bool = False
    """Back-propagate with the adjoint method (less memory, more compute)."""


@dataclass
class ModelConfig:
    """Which model, and its architecture. Channel-agnostic: ``in_channels`` is just a number."""

    name: str = "vid_ode"
    """Registered model name (``vid_ode`` or a baseline such as ``convgru_delta_t``)."""
    in_channels: int = 3
    """Channels per frame (3 for U850/V850/PSL or RGB)."""
    image_size: tuple[int, int] = (64, 64)
    """Frame size (H, W) the model is built for."""
    hidden_channels: int = 64
    """Channels of the latent state h (c')."""
    base_channels: int = 32
    """Channels of the first Conv-Encoder layer."""
    n_downsample: int = 2
    """Stride-2 stages in the Conv-Encoder (latent grid = image / 2**n_downsample)."""
    odefunc_layers: int = 2
    """Conv layers in each derivative network f_theta, f_phi."""
    time_scale: float = 1.0 / 24.0
    """Model time units per clip time unit (clip times are hours for climate: 1/24 -> days)."""
    use_ode_encoder: bool = True
    """ODE-ConvGRU encoder (True) or channel-concatenated Conv encoder, i.e. ODE-Conv (Table 4, A)."""
    use_warp: bool = True
    """Optical-flow warping of the previous frame (Table 4, D)."""
    use_mask: bool = True
    """Composition mask (Table 4, E); without it the output is the warped image plus D when warping."""
    composition: str = "paper"
    """How D enters Psi: ``paper`` = ``M*W + (1-M)*D`` with D itself compared to the frame difference
    (as the official code does); ``residual`` = ``M*W + (1-M)*(X_prev + D)``."""
    n_inputs: int = 5
    """Input frames per clip; only the ODE-Conv encoder (``use_ode_encoder=False``) depends on it."""
    flow_prior: str = "none"
    """Ours, not the paper's. ``none`` (paper): G's flow is the whole flow. ``advection``: G's flow
    corrects a classical motion estimate (pyramidal Lucas-Kanade on the last two observed inputs,
    :mod:`hurricane_ode.models.motion`), so the untrained decoder already advects."""
    grid_spacing_deg: float | None = None
    """Grid spacing (degrees) of the data the model was trained on. Set: the model is fully
    convolutional and forecasts whole basins on this grid (a 60x160-degree basin at 1 degree is
    60 x 160 cells); inputs at another spacing are regridded to it (conservatively, NaN-aware)
    and the forecast says so. None: it runs on ``image_size`` tiles (the paper's fixed frames)."""
    flow_prior_max_speed: float = 1.0
    """Cap on the prior's speed, pixels per clip-time unit (1 px/h = 111 km/h at 1 degree, above any storm's
    translation): a noisy estimate over a short gap must not carry frames across the basin."""
    warp_source: str = "previous"
    """Ours. ``previous`` (paper): warp the previous output by this step's flow. ``reference``: warp X_{s_0} by
    the accumulated flow, one interpolation per output, so repeated resampling does not smooth vortices away."""
    warp_interpolation: str = "bilinear"
    """Warp sampling: ``bilinear`` (paper) or ``bicubic`` (ours; cubic convolution keeps narrow vortices deeper)."""
    head_init: str = "default"
    """Ours. ``default`` (paper): PyTorch's init for G's last layer. ``identity``: G's last layer
    starts at zero (D = 0, no flow correction) and the mask logit at ``mask_bias_init``, so the
    first forecasts are the (prior-)warped frames and training learns corrections to them."""
    mask_bias_init: float = 4.0
    """Initial mask logit with ``head_init = identity`` (sigmoid(4) = 0.98 weight on the warp)."""
    instance_norm: bool = False
    """Ours (paper: off). Each sample's inputs are z-scored per channel with their own mean and
    standard deviation (observed input frames, all pixels) and the outputs mapped back (reversible
    instance normalisation, Kim et al. 2022): a climate whose means or variability lie outside the
    training range looks like the training data to the network. No parameters."""
    rnn_step: float | None = None
    """Vid-RNN decoder step in clip time units (1 frame for video, 3 h for CAM5); ``None`` = each
    sample's median gap between observed inputs."""
    disc_base_channels: int = 64
    """Channels of the first layer of the image and sequence discriminators."""
    disc_window: int | None = None
    """Frames per window of the sequence discriminator (stacked as channels of a 2-D conv net);
    ``None`` = ``n_inputs + 1``, the ``T + 1`` frames of Eq. 4."""
    adversarial: bool = True
    """Image and sequence discriminators (Table 4, C)."""
    solver: SolverConfig = field(default_factory=SolverConfig)


@dataclass
class LossConfig:
    """Weights of Eq. 7."""

    lambda_diff: float = 1.0
    """Weight of the difference loss (Eq. 6)."""
    lambda_img: float = 0.003
    """Weight of the image-discriminator LS-GAN loss (Eq. 3); used when ``model.adversarial``."""
    lambda_seq: float = 0.003
    """Weight of the sequence-discriminator LS-GAN loss (Eq. 4); used when ``model.adversarial``."""
    lambda_grad: float = 0.0
    """Weight of the image-gradient L1 term (ours, Mathieu et al. 2016; paper: none, 0): penalises
    spatial gradients weaker than the truth's, i.e. a vortex filled by blurring."""
    lambda_intensity: float = 0.0
    """Weight of the intensity term (ours; paper: none, 0): L1 between the spatial minimum of the
    forecast and of the true frame in channel ``intensity_channel`` (PSL: the deepest low)."""
    lambda_storm: float = 0.0
    """Weight of the storm-region L1 (ours; paper: none, 0): ``|X_hat - X|`` averaged with the clips'
    storm-proximity weights (``data.storm_sigma_km``), so the vortex counts as much as the frame."""
    lambda_mask: float = 0.0
    """Weight of the mask prior (ours; paper: none, 0): mean of ``1 - M`` over valid targets, a pull
    towards the warped frame (M = 1) and away from Eq. 2's other path, where vortices get smoothed."""
    lambda_storm_mask: float = 0.0
    """Weight of the storm mask prior (ours; paper: none, 0): ``lambda_mask``'s ``1 - M`` weighted by
    storm proximity (``data.storm_sigma_km``): storms moved by the warp, the rest left free."""
    lambda_storm_flow: float = 0.0
    """Weight of the storm flow prior (ours; paper: none, 0): L1 (pixels) of the warp's flow near storms
    against their best-track displacement from the reference frame (needs ``warp_source: reference``)."""
    intensity_channel: int = 2
    """Channel whose minimum the intensity term compares (2 = PSL for U850, V850, PSL)."""
    lead_weighting: str = "none"
    """Eq. 5's weights: ``none`` (paper) every valid frame alike; ``persistence`` (ours) each lead's L1
    divided by persistence's L1 there (weights of mean 1), so a 3 h frame counts as much as a 48 h one."""


@dataclass
class TrainConfig:
    """The optimisation loop."""

    epochs: int = 500
    """Passes over ``data.clips_per_epoch`` clips (paper: 500)."""
    batch_size: int = 8
    """Clips per optimiser step, per process (paper: 8)."""
    lr: float = 1e-3
    """Adamax learning rate of generator and discriminators (paper: 1e-3)."""
    lr_decay: float = 0.99
    """Exponential LR decay per epoch."""
    lr_min_factor: float = 0.1
    """The decayed LR never falls below ``lr * lr_min_factor`` (0.1: the official code's floor of lr / 10)."""
    grad_clip: float | None = 1.0
    """Clip the gradient norm (stabilises early ODE training); ``None`` disables."""
    seed: int = 0
    """Seeds model init, batch order and every RNG (same seed, same result on CPU)."""
    device: str = "auto"
    """``auto`` (CUDA if available), ``cpu`` or ``cuda[:N]``."""
    amp: bool | None = None
    """bf16 autocast (convs in bf16; the latent state, the ODE integration and the losses stay float32);
    ``None`` = on where bf16 is native: CUDA, and CPUs with AVX512-BF16 (measured on such a CPU:
    the same loss curve as float32 over 200 steps, 1.45x faster), else off."""
    time_stretch: float = 1.0
    """Ours (paper: none, 1 = off): each batch's times times a factor drawn log-uniformly from
    ``[1 / time_stretch, time_stretch]`` (seeded by seed and step): the same motion, faster or slower."""
    compile: bool = False
    """``torch.compile`` the generator. Off by default: measured on CPU it took 69 s to compile and
    then ran slower per step than eager (the solver's host-side step counts break the graph)."""
    checkpoint_every: int = 200
    """Write a checkpoint every N optimiser steps (and always at the end)."""
    log_every: int = 10
    """Write a metrics.csv row (window means) every N steps."""
    max_steps: int | None = None
    """Stop after this many optimiser steps (overrides ``epochs`` when reached first)."""
    output_dir: str = "runs/default"
    """Run directory: last.pt, step_*.pt, metrics.csv, config.yaml."""
    progress: bool = True
    """Show a progress bar."""
    keep_checkpoints: int = 3
    """Step-numbered checkpoints kept besides ``last.pt`` (0 = only ``last.pt``)."""
    ddp_find_unused: bool = False
    """DDP ``find_unused_parameters`` (set True for ablations that leave parameters unused)."""
    validate_every: int = 0
    """With a validation callable (``Trainer.fit(validate=...)``): validate every N steps (0 = at the end only)."""
    best_metric: str | None = None
    """Validation score (lower is better) that picks ``best.pt``; ``None`` = the first score returned."""


@dataclass
class Config:
    """Everything one training run needs.

    Parameters
    ----------
    data : DataConfig
        Where clips come from and how they are sampled.
    model : ModelConfig
        Which model and its architecture.
    loss : LossConfig
        Loss terms and their weights.
    train : TrainConfig
        Optimiser, schedule, checkpoints and runtime options.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def config_from_dict(values: dict | None) -> Config:
    """Build a :class:`Config` from nested dicts; missing keys take their defaults.

    Parameters
    ----------
    values
        Nested mapping section -> key -> value (None: all defaults).

    Returns
    -------
    Config
        Validated with :func:`validate_config` (a value out of range raises ConfigError).
    """
    config = build_dataclass(Config, values or {}, "config")
    validate_config(config)
    return config


def runtime_free_differences(saved: dict, wanted: dict) -> list[str]:
    """Flattened keys (``section.key``) where two config dicts differ, ignoring :data:`RUNTIME_KEYS`.

    ``saved`` is completed with today's defaults first, so a checkpoint written before a key
    existed compares equal on that key when the request uses its default.
    """
    try:
        saved = config_to_dict(build_dataclass(Config, saved, "config"))
    except (KeyError, TypeError):
        pass  # a key since removed: compare as stored
    a, b = _flatten(saved), _flatten(wanted)
    return sorted(k for k in set(a) | set(b) if k not in RUNTIME_KEYS and a.get(k) != b.get(k))


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_to_dict(config: Config) -> dict:
    """Nested plain dict (tuples as lists), suitable for YAML and checkpoints."""

    def plain(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        return [plain(v) for v in x] if isinstance(x, list | tuple) else x

    return plain(asdict(config))


def load_config(path: str | Path) -> Config:
    """Read a YAML config file (``configs/*.yaml``); missing keys take their defaults.

    Parameters
    ----------
    path : str or Path
        The YAML file: sections ``data``, ``model``, ``loss``, ``train``.

    Returns
    -------
    Config
        The validated config. Errors (missing file, bad YAML, unknown key, value out of
        range) name the file.
    """
    path = Path(path)
    values = read_yaml(path, "config file")
    try:
        return config_from_dict(values)
    except (KeyError, TypeError, ConfigError) as exc:
        raise type(exc)(f"{path}: {exc.args[0]}") from exc
