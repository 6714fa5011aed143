"""Register the video sources with :mod:`hurricane_ode.data.sources`.

``DataConfig.source`` names registered here (``data.path`` is the local dataset root):

- ``bouncing_balls``: generated, no path; ``image_size`` (square, default 32), ``channels``
  (default 1), ``n_videos`` (default 1000 train / 50 test);
- ``video_folder``: ``<path>/{train,test}/`` of video files or frame folders;
- ``kth``: KTH Action, split by subject (1-16 train, 17-25 test);
- ``moving_gif``: Moving GIF, ``<path>/{train,test}/*.gif|*.mp4``;
- ``penn_action``: Penn Action, ``frames/`` + ``labels/*.mat``.

Every video source honours ``interpolation_protocol`` (paper: train on reconstructing the
inputs) and ``reverse_inputs`` (train split: clips played backward half the time).
Real-video sources default to 128 x 128 RGB; the train split holds
``clips_per_epoch`` clips (video ``i % n_videos``) and is augmented when
``augment``; the test split holds one clip per video.
"""

from __future__ import annotations

from collections.abc import Callable

from torch.utils.data import Dataset

from hurricane_ode.config import DataConfig
from hurricane_ode.data.sources import register_source
from hurricane_ode.data.video.dataset import BouncingBallsDataset, VideoClipDataset
from hurricane_ode.data.video.layouts import (
    VideoEntry,
    discover_kth,
    discover_moving_gif,
    discover_penn_action,
    discover_video_folder,
)
from hurricane_ode.errors import InputError

__all__ = ["VIDEO_SOURCES"]

VIDEO_SOURCES = ("bouncing_balls", "video_folder", "kth", "moving_gif", "penn_action")
"""Source names this module registers."""


@register_source("bouncing_balls")
def _bouncing_balls(data: DataConfig, split: str, seed: int) -> Dataset:
    """Generated bouncing balls (paper: 3 balls, 32 x 32, grey)."""
    size = 32
    if data.image_size is not None:
        h, w = data.image_size
        if h != w:
            raise InputError(f"data.image_size: bouncing_balls frames are square, got {tuple(data.image_size)}")
        size = int(h)
    return BouncingBallsDataset(
        data.sampling,
        seed=seed,
        train=split == "train",
        n_videos=data.n_videos,
        size=size,
        channels=data.channels or 1,
        protocol=data.interpolation_protocol,
        reverse=data.reverse_inputs,
    )


def _video_source(name: str, discover: Callable[[str, str], list[VideoEntry]]):
    def build(data: DataConfig, split: str, seed: int) -> Dataset:
        if data.path is None:
            raise InputError(f"data.path: the '{name}' source needs the root folder of a local copy")
        train = split == "train"
        return VideoClipDataset(
            discover(data.path, split),
            data.sampling,
            seed=seed,
            train=train,
            image_size=(data.image_size[0], data.image_size[1]) if data.image_size is not None else (128, 128),
            channels=data.channels or 3,
            augment=data.augment,
            length=data.clips_per_epoch if train else None,
            protocol=data.interpolation_protocol,
            reverse=data.reverse_inputs,
        )

    build.__doc__ = f"Clips from the '{name}' layout under ``data.path``."
    return register_source(name)(build)


_video_source("video_folder", discover_video_folder)
_video_source("kth", discover_kth)
_video_source("moving_gif", discover_moving_gif)
_video_source("penn_action", discover_penn_action)
