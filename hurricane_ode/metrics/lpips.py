"""LPIPS (Zhang et al. 2018), version 0.1 with the AlexNet backbone, in plain torch.

What is loaded, from where
--------------------------
* **Linear layers** (the learned part of LPIPS): ``lpips/weights/v0.1/alex.pth``
  from the installed ``lpips`` wheel (``pip install --no-deps lpips==0.1.4``).
  The file is located with :func:`importlib.util.find_spec`, which does *not*
  run ``lpips/__init__.py`` (that module imports torchvision, which is not
  needed and may not import).
* **Backbone**: torchvision's ImageNet AlexNet weights, file
  ``alexnet-owt-7be5be79.pth`` (only its ``features.*`` tensors are used). No
  package ships it, so it is read from ``$HURRICANE_ODE_LPIPS_BACKBONE`` or
  ``$HURRICANE_ODE_CACHE/lpips/alexnet-owt-7be5be79.pth`` (cache default
  ``~/.cache/hurricane_ode``). Fetch it once, on a machine with internet,
  with ``python scripts/fetch_lpips_weights.py``. Nothing here downloads.

Without that file :class:`LPIPS` raises ``FileNotFoundError`` naming the path.
Random backbone weights are only used when explicitly asked for with
``allow_untrained_backbone_for_testing=True`` (tests); such a module reports
``is_real == False`` and must never produce a reported number.

The computation: inputs in ``[-1, 1]`` are shifted and scaled per RGB channel
(the ImageNet statistics expressed in that range), passed through AlexNet's
five conv+ReLU stages; each stage's activations are unit-normalised along
channels, the squared difference of the two images is weighted per channel by
the 1x1 linear layer, averaged over space, and the five stage values are summed.

Climate frames
--------------
Network input is an RGB-like image in ``[-1, 1]``. A frame is mapped there by
clipping each channel to ``value_range`` and rescaling linearly. For z-score
normalised climate fields use ``value_range=(-3, 3)`` (clip at +-3 sigma, then
divide by 3); the three channels U850, V850, PSL take the places of R, G, B.
For RGB video in ``[0, 1]`` use ``value_range=(0, 1)``. Channel counts other
than three (``channel_mode="auto"``): each channel is replicated to a grey
three-channel image, LPIPS is computed per channel and averaged over channels.
``channel_mode="per_channel"`` does that for three channels too.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from torch import Tensor, nn

from hurricane_ode.metrics.frame import check_frames

__all__ = [
    "LPIPS",
    "AlexNetFeatures",
    "BACKBONE_FILENAME",
    "BACKBONE_URL",
    "MIN_IMAGE_SIZE",
    "default_backbone_path",
    "lpips_linear_weights_path",
    "make_test_backbone_state_dict",
]

BACKBONE_FILENAME = "alexnet-owt-7be5be79.pth"
"""torchvision's published ImageNet AlexNet weights (sha256 starts with 7be5be79)."""
BACKBONE_URL = f"https://download.pytorch.org/models/{BACKBONE_FILENAME}"
MIN_IMAGE_SIZE = 31
"""Smallest H and W AlexNet's five stages accept (the second max-pool needs a 3x3 input)."""
FETCH_HINT = "python scripts/fetch_lpips_weights.py"

# ImageNet channel statistics in [-1, 1] units (LPIPS v0.1 "ScalingLayer").
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_STAGE_CHANNELS = (64, 192, 384, 256, 256)
_NORM_EPS = 1e-10


def _cache_dir() -> Path:
    return Path(os.environ.get("HURRICANE_ODE_CACHE", "~/.cache/hurricane_ode")).expanduser()


def default_backbone_path() -> Path:
    """Where the AlexNet backbone file is looked for (env vars read at call time)."""
    explicit = os.environ.get("HURRICANE_ODE_LPIPS_BACKBONE")
    if explicit:
        return Path(explicit).expanduser()
    return _cache_dir() / "lpips" / BACKBONE_FILENAME


def lpips_linear_weights_path(net: str = "alex", version: str = "0.1") -> Path:
    """Path of the published LPIPS linear-layer file inside the installed ``lpips`` wheel.

    Raises ``FileNotFoundError`` with the install command when the wheel is absent.
    """
    spec = importlib.util.find_spec("lpips")  # finds the package without importing it
    hint = "install it with: pip install --no-deps lpips==0.1.4"
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the 'lpips' package (linear-layer weights) is not installed; {hint}")
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / f"v{version}" / f"{net}.pth"
    if not path.is_file():
        raise FileNotFoundError(f"LPIPS linear-layer weights not found at {path}; {hint}")
    return path


class AlexNetFeatures(nn.Module):
    """AlexNet's convolutional trunk, laid out like ``torchvision.models.alexnet().features``.

    State-dict keys are ``features.{0,3,6,8,10}.{weight,bias}`` so torchvision's
    checkpoint loads directly. ``forward`` returns the five post-ReLU stage
    outputs ``[N, 64|192|384|256|256, h_i, w_i]``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),  # 0
            nn.ReLU(inplace=False),  # 1 -> stage 1
            nn.MaxPool2d(kernel_size=3, stride=2),  # 2
            nn.Conv2d(64, 192, kernel_size=5, padding=2),  # 3
            nn.ReLU(inplace=False),  # 4 -> stage 2
            nn.MaxPool2d(kernel_size=3, stride=2),  # 5
            nn.Conv2d(192, 384, kernel_size=3, padding=1),  # 6
            nn.ReLU(inplace=False),  # 7 -> stage 3
            nn.Conv2d(384, 256, kernel_size=3, padding=1),  # 8
            nn.ReLU(inplace=False),  # 9 -> stage 4
            nn.Conv2d(256, 256, kernel_size=3, padding=1),  # 10
            nn.ReLU(inplace=False),  # 11 -> stage 5
            nn.MaxPool2d(kernel_size=3, stride=2),  # 12 (unused by LPIPS)
        )
        self._taps = (1, 4, 7, 9, 11)

    def forward(self, x: Tensor) -> list[Tensor]:
        outs: list[Tensor] = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._taps:
                outs.append(x)
                if i == self._taps[-1]:
                    break
        return outs


def make_test_backbone_state_dict(seed: int = 0) -> dict[str, Tensor]:
    """TEST WEIGHTS: a seeded random AlexNet ``features.*`` state dict (not ImageNet-trained).

    For exercising the plumbing only; numbers computed with it mean nothing.
    """
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, Tensor] = {}
    for key, t in AlexNetFeatures().state_dict().items():
        fan_in = t[0].numel() if t.dim() > 1 else 1
        std = (2.0 / fan_in) ** 0.5 if t.dim() > 1 else 0.01
        out[key] = torch.randn(t.shape, generator=gen) * std
    return out


def _load_backbone_file(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise FileNotFoundError(
            f"LPIPS backbone weights not found: {path} (expected torchvision's ImageNet AlexNet "
            f"file {BACKBONE_FILENAME}). Fetch it on a machine with internet with "
            f"`{FETCH_HINT}` (it saves to {default_backbone_path()} by default), or set "
            "HURRICANE_ODE_LPIPS_BACKBONE to your copy."
        )
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt / not a state dict
        raise ValueError(f"could not read LPIPS backbone weights from {path}: {err}") from err
    if not isinstance(sd, dict):
        raise ValueError(f"{path}: expected a state dict, got {type(sd).__name__}")
    return sd


class LPIPS(nn.Module):
    """LPIPS v0.1 distance with the AlexNet backbone (lower = more similar, 0 for identical).

    Parameters
    ----------
    backbone_state_dict : AlexNet weights with keys ``features.N.*`` (a full
        torchvision AlexNet state dict also works). Given in tests with
        :func:`make_test_backbone_state_dict`; label it with ``backbone_label``.
    backbone_path : file to read the backbone from; default
        :func:`default_backbone_path`.
    linear_state_dict : LPIPS linear layers (keys ``lin{i}.model.1.weight``);
        default: read from the installed ``lpips`` wheel.
    allow_untrained_backbone_for_testing : use seeded random backbone weights
        when nothing is given. Tests only; ``is_real`` is then False.
    value_range : ``(lo, hi)`` of the input data, mapped (after clipping) to ``[-1, 1]``.
    channel_mode : ``auto`` | ``rgb`` | ``per_channel`` (see module docstring).
    chunk_size : frames per forward pass (bounds memory).
    backbone_label : how ``backbone_state_dict`` is named in errors and in
        ``backbone_source``.
    """

    shift: Tensor  # buffers: the ImageNet-style input scaling of LPIPS v0.1, [1, 3, 1, 1]
    scale: Tensor

    def __init__(
        self,
        backbone_state_dict: dict[str, Tensor] | None = None,
        backbone_path: str | os.PathLike[str] | None = None,
        linear_state_dict: dict[str, Tensor] | None = None,
        allow_untrained_backbone_for_testing: bool = False,
        value_range: tuple[float, float] = (-1.0, 1.0),
        channel_mode: str = "auto",
        chunk_size: int = 64,
        backbone_label: str = "caller-supplied state dict",
    ) -> None:
        super().__init__()
        lo, hi = (float(v) for v in value_range)
        if not hi > lo:
            raise ValueError(f"value_range must be (lo, hi) with hi > lo, got {value_range}")
        if channel_mode not in ("auto", "rgb", "per_channel"):
            raise ValueError(f"channel_mode must be auto, rgb or per_channel, got {channel_mode!r}")
        self.value_range = (lo, hi)
        self.channel_mode = channel_mode
        self.chunk_size = int(chunk_size)

        self.net = AlexNetFeatures()
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in _STAGE_CHANNELS)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))

        if backbone_state_dict is not None:
            self._load_backbone(backbone_state_dict, backbone_label)
            self.backbone_source = backbone_label
            self.is_real = False
        elif allow_untrained_backbone_for_testing and backbone_path is None and not (
            default_backbone_path().is_file()
        ):
            self._load_backbone(make_test_backbone_state_dict(0), "test weights")
            self.backbone_source = "UNTRAINED random test weights (seed 0)"
            self.is_real = False
        else:
            path = Path(backbone_path) if backbone_path is not None else default_backbone_path()
            self._load_backbone(_load_backbone_file(path), str(path))
            self.backbone_source = str(path)
            self.is_real = True

        if linear_state_dict is None:
            lin_path = lpips_linear_weights_path()
            linear_state_dict = torch.load(lin_path, map_location="cpu", weights_only=True)
            self.linear_source = str(lin_path)
        else:
            self.linear_source = "caller-supplied state dict"
            self.is_real = False
        self._load_linear(linear_state_dict, self.linear_source)
        self.requires_grad_(False)
        self.eval()

    def _load_backbone(self, sd: dict[str, Tensor], where: str) -> None:
        want = self.net.state_dict()
        picked = {k: v for k, v in sd.items() if k in want}
        missing = sorted(set(want) - set(picked))
        if missing:
            raise ValueError(
                f"LPIPS backbone {where}: missing AlexNet keys {missing} (expected torchvision "
                "alexnet layout features.0/3/6/8/10.weight/bias)"
            )
        for k, v in picked.items():
            if tuple(v.shape) != tuple(want[k].shape):
                raise ValueError(
                    f"LPIPS backbone {where}: {k} has shape {tuple(v.shape)}, "
                    f"expected {tuple(want[k].shape)}"
                )
        self.net.load_state_dict({k: v.float() for k, v in picked.items()})

    def _load_linear(self, sd: dict[str, Tensor], where: str) -> None:
        for i, lin in enumerate(self._convs()):
            key = f"lin{i}.model.1.weight"
            if key not in sd:
                raise ValueError(f"LPIPS linear weights {where}: missing key {key!r}")
            w = sd[key]
            if tuple(w.shape) != tuple(lin.weight.shape):
                raise ValueError(
                    f"LPIPS linear weights {where}: {key} has shape {tuple(w.shape)}, "
                    f"expected {tuple(lin.weight.shape)}"
                )
            lin.weight.data.copy_(w.float())

    def _convs(self) -> list[nn.Conv2d]:
        """The linear (1x1 convolution) layer of each AlexNet stage."""
        return [m for m in self.lins if isinstance(m, nn.Conv2d)]

    def distance(self, x0: Tensor, x1: Tensor) -> Tensor:
        """LPIPS between image batches ``[N, 3, H, W]`` already in ``[-1, 1]``: ``-> [N]``."""
        if x0.shape != x1.shape or x0.dim() != 4 or x0.shape[1] != 3:
            raise ValueError(
                f"LPIPS.distance expects two [N, 3, H, W] tensors of equal shape, got "
                f"{tuple(x0.shape)} and {tuple(x1.shape)}"
            )
        h, w = x0.shape[-2:]
        if h < MIN_IMAGE_SIZE or w < MIN_IMAGE_SIZE:
            raise ValueError(
                f"LPIPS (AlexNet) needs images of at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} "
                f"pixels, got {h}x{w}; upsample the frames first"
            )
        dev = self.shift.device
        f0 = self.net((x0.to(dev, torch.float32) - self.shift) / self.scale)
        f1 = self.net((x1.to(dev, torch.float32) - self.shift) / self.scale)
        total = torch.zeros(x0.shape[0], device=dev)
        for a, b, lin in zip(f0, f1, self._convs()):
            a = a / (a.pow(2).sum(dim=1, keepdim=True).sqrt() + _NORM_EPS)
            b = b / (b.pow(2).sum(dim=1, keepdim=True).sqrt() + _NORM_EPS)
            total = total + lin((a - b).pow(2)).mean(dim=(1, 2, 3))
        return total

    def to_network_input(self, x: Tensor) -> Tensor:
        """Clip to ``value_range`` and map linearly to ``[-1, 1]`` (any shape)."""
        lo, hi = self.value_range
        return (x.clamp(lo, hi) - lo) * (2.0 / (hi - lo)) - 1.0

    @torch.no_grad()
    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """LPIPS per frame: ``[B, K, C, H, W]`` (data in ``value_range``) ``-> [B, K]``."""
        pred, target = check_frames(pred, target)
        b, k, c, h, w = pred.shape
        mode = self.channel_mode
        if mode == "auto":
            mode = "rgb" if c == 3 else "per_channel"
        if mode == "rgb" and c != 3:
            raise ValueError(f"channel_mode='rgb' needs 3 channels, got {c}")
        p = self.to_network_input(pred).reshape(b * k, c, h, w)
        t = self.to_network_input(target).reshape(b * k, c, h, w)
        if mode == "per_channel":  # grey image per channel: [(b k c), 3, h, w]
            p = p.reshape(b * k * c, 1, h, w).expand(-1, 3, -1, -1)
            t = t.reshape(b * k * c, 1, h, w).expand(-1, 3, -1, -1)
        parts = [
            self.distance(p[i : i + self.chunk_size], t[i : i + self.chunk_size])
            for i in range(0, p.shape[0], self.chunk_size)
        ]
        d = torch.cat(parts).to(pred.device)
        if mode == "per_channel":
            d = d.reshape(b * k, c).mean(dim=1)
        return d.reshape(b, k)
