"""Torch datasets that cut RGB / grey videos into :class:`~hurricane_ode.data.clips.Clip` items.

Which frames become inputs and targets is decided by the same sampler as the
climate tiles (:func:`hurricane_ode.data.sampling.sample_clip`, driven by
:class:`~hurricane_ode.config.SamplingConfig`), on a video whose frames are
``frame_interval_h`` apart. The paper's settings:

- extrapolation: ``n_inputs=5, n_targets=5, sampling_rate=1, irregular=False`` (frames 0-4 -> 5-9);
- interpolation: ``task="interpolation", n_inputs=5, n_targets=4, sampling_rate=0.5,
  irregular=False`` (inputs 0, 2, 4, 6, 8; targets 1, 3, 5, 7);
- bouncing balls: ``n_inputs=10, n_targets=10, sampling_rate=1, irregular=False``;
- ``irregular=True`` draws the inputs at random frames of the input span (gaps up to
  ``max_gap_h / frame_interval_h`` frames).

Protocols (named tasks, :data:`VIDEO_TASKS`):

- ``extrapolation``: train and score on the frames after the inputs;
- ``interpolation`` (``protocol="paper"``, the paper's Sec. 4.1): a *training* clip's targets
  are its own observed input frames at the input times (the model learns to reconstruct what
  it sees); a *test* clip's targets are the in-between frames, which training never sees;
- ``interpolation_supervised`` (``protocol="supervised"``): training clips also target the
  in-between frames (the supervised variant, like DVF in Table 3).

``reverse=True`` (train split only) plays each clip backward with probability 1/2 before it is
cut: input frames come in reverse order of the video and times still increase from the
first input (the paper's reversed-input augmentation).

Clip times are in **frame units**: frame ``k`` after the clip's first input is at
time ``k`` (whatever ``frame_interval_h`` is). Set ``ModelConfig.time_scale`` for
video accordingly (e.g. ``1.0``, or ``1 / window_length`` to map a clip onto [0, 1]
as the official Vid-ODE code does); the climate default ``1/24`` (hours -> days)
is not meant for frame units.

Every draw (window position, irregular indices, dropped inputs, augmentation)
comes from ``numpy.random.default_rng([seed, epoch, index])``: the same (seed,
epoch, index) gives the same clip; :meth:`set_epoch` re-draws for training.
Evaluation datasets (``train=False``) ignore the epoch and never augment.
Frame values are in [0, 1].
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from hurricane_ode.config import SamplingConfig
from hurricane_ode.data.clips import Clip
from hurricane_ode.data.sampling import (
    check_sampling_config,
    drop_inputs,
    sample_clip,
    window_length,
)
from hurricane_ode.data.video.bouncing_balls import bouncing_balls_video
from hurricane_ode.data.video.layouts import VideoEntry
from hurricane_ode.data.video.readers import count_frames, read_frames
from hurricane_ode.data.video.transforms import augment_frames, center_crop_resize
from hurricane_ode.errors import InputError

__all__ = [
    "VIDEO_TASKS",
    "PROTOCOLS",
    "task_name",
    "PAPER_EXTRAPOLATION",
    "PAPER_INTERPOLATION",
    "PAPER_BOUNCING_BALLS",
    "to_channels",
    "VideoClipDataset",
    "BouncingBallsDataset",
]

PAPER_EXTRAPOLATION = SamplingConfig(n_inputs=5, n_targets=5, sampling_rate=1.0, irregular=False)
"""Paper video extrapolation: 5 consecutive inputs -> the next 5 frames."""
PAPER_INTERPOLATION = SamplingConfig(
    task="interpolation", n_inputs=5, n_targets=4, sampling_rate=0.5, irregular=False
)
"""Paper video interpolation: inputs at frames 0, 2, 4, 6, 8 -> frames 1, 3, 5, 7."""
PAPER_BOUNCING_BALLS = SamplingConfig(n_inputs=10, n_targets=10, sampling_rate=1.0, irregular=False)
"""Paper bouncing balls: 10 inputs -> the next 10 frames."""
PROTOCOLS = ("paper", "supervised")
"""Interpolation protocols: what a training clip's targets are (see module docstring)."""
VIDEO_TASKS = ("extrapolation", "interpolation", "interpolation_supervised")
"""Task names: ``sampling.task`` plus, for interpolation, the protocol (``paper`` keeps the plain name)."""


def task_name(task: str, protocol: str = "paper") -> str:
    """Named task of a ``sampling.task`` and an interpolation ``protocol``, one of :data:`VIDEO_TASKS`.

    Parameters
    ----------
    task : str
        ``extrapolation`` or ``interpolation`` (``SamplingConfig.task``).
    protocol : str
        ``paper`` or ``supervised`` (``DataConfig.interpolation_protocol``).

    Returns
    -------
    str
        ``extrapolation``, ``interpolation`` (paper) or ``interpolation_supervised``.
    """
    if protocol not in PROTOCOLS:
        raise InputError(f"interpolation_protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if task == "interpolation" and protocol == "supervised":
        return "interpolation_supervised"
    return task


def to_channels(frames: Tensor, channels: int | None) -> Tensor:
    """RGB ``[T, 3, H, W]`` -> ``channels`` (``None``/3 keep RGB; 1 = luma 0.299 R + 0.587 G + 0.114 B)."""
    if channels is None or channels == frames.shape[1]:
        return frames
    if channels == 1 and frames.shape[1] == 3:
        w = torch.tensor([0.299, 0.587, 0.114], dtype=frames.dtype).view(1, 3, 1, 1)
        return (frames * w).sum(1, keepdim=True)
    if channels == 3 and frames.shape[1] == 1:
        return frames.expand(-1, 3, -1, -1).contiguous()
    raise InputError(
        f"cannot convert {frames.shape[1]}-channel frames to {channels} channels (expected 1 or 3)"
    )


@dataclass(frozen=True)
class _Draw:
    """One clip's frames: absolute indices (in clip order), masks and the playing direction (+1 / -1)."""

    input_idx: np.ndarray
    target_idx: np.ndarray
    input_mask: np.ndarray
    target_mask: np.ndarray | None
    direction: int


class _SeededClips(Dataset):
    """Shared seeding and clip assembly: one numpy Generator per (seed, epoch, index).

    ``variables`` names the channels; ``stats`` is ``None``: video frames are not
    normalised (values in [0, 1] are their own units).
    """

    stats = None

    def __init__(self, sampling: SamplingConfig, seed: int, train: bool, length: int, channels: int,
                 protocol: str = "paper", reverse: bool = False):
        check_sampling_config(sampling)
        self.task = task_name(sampling.task, protocol)
        """Named task (:data:`VIDEO_TASKS`)."""
        self.protocol = protocol
        self.reverse = bool(reverse)
        if length < 1:
            raise InputError(f"{type(self).__name__}: dataset length must be >= 1, got {length}")
        if channels not in (1, 3):
            raise InputError(f"{type(self).__name__}: channels must be 1 or 3, got {channels}")
        self.sampling = sampling
        self.window = window_length(sampling)
        """Consecutive frames one clip spans."""
        self.seed = int(seed)
        self.train = bool(train)
        self.length = int(length)
        self.epoch = 0
        self.variables: tuple[str, ...] = ("grey",) if channels == 1 else ("red", "green", "blue")

    def set_epoch(self, epoch: int) -> None:
        """Draw new windows / augmentations for training epoch ``epoch`` (no effect when not training)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def _rng(self, index: int) -> np.random.Generator:
        if not 0 <= index < self.length:
            raise IndexError(f"{type(self).__name__}: index {index} out of range [0, {self.length})")
        epoch = self.epoch if self.train else 0
        return np.random.default_rng([abs(self.seed), epoch, index, int(self.seed < 0)])

    def _draw(self, n_frames: int, rng: np.random.Generator) -> _Draw:
        """Which frames of a video of ``n_frames`` one clip uses, after protocol and reversal."""
        hours = np.arange(n_frames, dtype=np.float64) * self.sampling.frame_interval_h
        idx = sample_clip(hours, None, self.sampling, rng)
        mask = np.ones(idx.input_idx.size, dtype=bool)
        if self.sampling.input_drop_prob > 0:
            mask = drop_inputs(mask, self.sampling.input_drop_prob, rng)
        input_idx, target_idx, target_mask = idx.input_idx, idx.target_idx, None
        if self.train and self.task == "interpolation":  # paper protocol: reconstruct the inputs
            target_idx, target_mask = input_idx, mask.copy()
        backward = self.train and self.reverse and bool(rng.random() < 0.5)
        if backward:  # the same draw on the time-reversed video: frame k -> frame n - 1 - k
            input_idx, target_idx = n_frames - 1 - input_idx, n_frames - 1 - target_idx
        return _Draw(input_idx, target_idx, mask, target_mask, -1 if backward else 1)

    @staticmethod
    def _clip(frames: Tensor, frame_idx: np.ndarray, draw: _Draw) -> Clip:
        """``frames[j]`` is frame ``frame_idx[j]``; times in frame units since the first input."""
        pos = {int(f): j for j, f in enumerate(frame_idx)}
        origin = float(draw.input_idx[0])
        n_targets = len(draw.target_idx)
        target_mask = np.ones(n_targets, dtype=bool) if draw.target_mask is None else draw.target_mask
        return Clip(
            inputs=frames[[pos[int(i)] for i in draw.input_idx]].contiguous(),
            input_times=torch.as_tensor(draw.direction * (draw.input_idx - origin), dtype=torch.float32),
            input_mask=torch.as_tensor(draw.input_mask, dtype=torch.bool),
            targets=frames[[pos[int(i)] for i in draw.target_idx]].contiguous(),
            target_times=torch.as_tensor(draw.direction * (draw.target_idx - origin), dtype=torch.float32),
            target_mask=torch.as_tensor(target_mask, dtype=torch.bool),
        )


class VideoClipDataset(_SeededClips):
    """Clips cut from videos on disk (frame folders or video files).

    Item ``i`` comes from video ``i % len(videos)`` at a seeded random window.
    Only the needed frames are read; they are centre-cropped and resized to
    ``image_size`` (``None`` keeps the native size), converted to ``channels``
    (1 = grey, 3 = RGB) and, when ``train and augment``, flipped / rotated as in
    the paper (one draw per clip). Videos shorter than a window are skipped
    with a warning; ``length`` (default: the number of videos) sets ``len()``.
    """

    def __init__(
        self,
        videos: Sequence[VideoEntry],
        sampling: SamplingConfig = PAPER_EXTRAPOLATION,
        seed: int = 0,
        train: bool = True,
        image_size: tuple[int, int] | None = (128, 128),
        channels: int = 3,
        augment: bool = True,
        length: int | None = None,
        progress: bool = False,
        protocol: str = "paper",
        reverse: bool = False,
    ) -> None:
        if not videos:
            raise InputError("VideoClipDataset: no videos given")
        need = window_length(sampling)
        counts = [count_frames(v.path) for v in tqdm(videos, desc="counting frames", disable=not progress)]
        keep = [(v, n) for v, n in zip(videos, counts) if n >= need]
        if not keep:
            raise InputError(
                f"VideoClipDataset: all {len(videos)} videos are shorter than the {need} frames a "
                f"clip needs (e.g. {videos[0].path}: {counts[0]} frames)"
            )
        if len(keep) < len(videos):
            warnings.warn(
                f"VideoClipDataset: skipped {len(videos) - len(keep)} of {len(videos)} videos shorter "
                f"than {need} frames",
                stacklevel=2,
            )
        self.videos = [v for v, _ in keep]
        self.n_frames = [n for _, n in keep]
        self.image_size = None if image_size is None else (int(image_size[0]), int(image_size[1]))
        self.channels = channels
        self.augment = augment
        super().__init__(sampling, seed, train, len(self.videos) if length is None else length, channels,
                         protocol, reverse)

    def __getitem__(self, index: int) -> Clip:
        rng = self._rng(index)
        k = index % len(self.videos)
        draw = self._draw(self.n_frames[k], rng)
        needed = np.union1d(draw.input_idx, draw.target_idx)
        frames = read_frames(self.videos[k].path, needed.tolist())
        if self.image_size is not None:
            frames = center_crop_resize(frames, self.image_size)
        frames = to_channels(frames, self.channels)
        if self.train and self.augment:
            gen = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
            frames = augment_frames(frames, gen)
        return self._clip(frames, needed, draw)


class BouncingBallsDataset(_SeededClips):
    """The paper's bouncing balls (3 balls, 32 x 32, 10 -> 10 frames), generated on the fly.

    Video ``i`` of a split is fixed by ``(seed, split, i)``: the same
    ``n_videos`` videos every epoch (paper: 1000 train, 50 test; train and test
    videos differ); each is exactly one window long. ``channels`` 1 (grey, as in
    the paper) or 3 (one colour per ball). Never flipped or rotated; ``reverse``
    plays training clips backward and ``protocol`` sets the interpolation targets (module docstring).
    """

    def __init__(
        self,
        sampling: SamplingConfig = PAPER_BOUNCING_BALLS,
        seed: int = 0,
        train: bool = True,
        n_videos: int | None = None,
        size: int = 32,
        n_balls: int = 3,
        channels: int = 1,
        collide: bool = True,
        protocol: str = "paper",
        reverse: bool = False,
    ) -> None:
        n = n_videos if n_videos is not None else (1000 if train else 50)
        super().__init__(sampling, seed, train, n, channels, protocol, reverse)
        self.size, self.n_balls, self.channels, self.collide = int(size), int(n_balls), channels, collide

    def video(self, index: int) -> tuple[Tensor, np.ndarray]:
        """Frames ``[window, C, size, size]`` and ball centres ``[window, n_balls, 2]`` of video ``index``."""
        if not 0 <= index < self.length:
            raise IndexError(f"BouncingBallsDataset: index {index} out of range [0, {self.length})")
        seq = np.random.SeedSequence([abs(self.seed), int(not self.train), index, int(self.seed < 0)])
        return bouncing_balls_video(seq, self.window, self.n_balls, self.size, self.channels, self.collide)

    def __getitem__(self, index: int) -> Clip:
        rng = self._rng(index)
        draw = self._draw(self.window, rng)
        frames, _ = self.video(index)
        return self._clip(frames, np.arange(self.window), draw)

