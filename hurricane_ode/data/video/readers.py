"""Read RGB video frames from disk: a folder of images, or a video file.

Every reader returns ``float32`` frames ``[T, 3, H, W]`` with values in
``[0, 1]`` (uint8 / 255). Grey images are repeated to three channels and an
alpha channel is dropped, so every video reaches the dataset as RGB. The
``[0, 1]`` range is the package's convention for video: metrics treat RGB
with ``data_range = 1``.

Video files (AVI, MP4, MOV, MKV, WebM) are decoded with imageio's ``pyav``
plugin (PyPI package ``av``, optional extra ``video``); GIFs with imageio's
default (pillow) plugin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from hurricane_ode.errors import InputError

__all__ = [
    "FRAME_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "natural_key",
    "list_frame_files",
    "to_float_frames",
    "count_frames",
    "read_frames",
]

FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
"""Image files recognised as frames inside a frame folder."""
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mov", ".mkv", ".webm", ".gif")
"""Files recognised as videos."""
_PYAV_EXTENSIONS = (".avi", ".mp4", ".mov", ".mkv", ".webm")


def natural_key(name: str) -> tuple:
    """Sort key that orders ``frame2`` before ``frame10`` (digit runs compare as integers)."""
    return tuple(int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name))


def list_frame_files(folder: str | Path) -> list[Path]:
    """Image files in ``folder``, naturally sorted. Raises if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"frame folder not found: {folder}")
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FRAME_EXTENSIONS]
    if not files:
        raise InputError(
            f"frame folder {folder} holds no image files (expected {', '.join(FRAME_EXTENSIONS)})"
        )
    return sorted(files, key=lambda p: natural_key(p.name))


def to_float_frames(frames: np.ndarray, where: str = "frames") -> Tensor:
    """``[T, H, W]`` / ``[T, H, W, 1|3|4]`` integer or float array -> ``float32 [T, 3, H, W]`` in [0, 1]."""
    arr = np.asarray(frames)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 2, 3, 4):
        raise InputError(f"{where}: expected frames [T, H, W(, C)] with C in 1..4, got {arr.shape}")
    if arr.shape[-1] in (2, 4):  # grey+alpha or RGBA: drop alpha
        arr = arr[..., :-1]
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if arr.dtype == np.uint8:
        out = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        out = arr.astype(np.float32) / 65535.0
    elif np.issubdtype(arr.dtype, np.floating):
        out = np.clip(arr.astype(np.float32), 0.0, 1.0)
    else:
        raise InputError(f"{where}: unsupported pixel type {arr.dtype} (expected uint8, uint16 or float)")
    return torch.from_numpy(np.ascontiguousarray(out.transpose(0, 3, 1, 2)))


def _imageio():
    try:
        import imageio.v3 as iio
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "reading video needs imageio: pip install 'hurricane_ode[video]'"
        ) from exc
    return iio


def _check_pyav(path: Path) -> None:
    try:
        import av  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"reading {path} needs PyAV: pip install 'hurricane_ode[video]' (package 'av')"
        ) from exc


def count_frames(path: str | Path) -> int:
    """Number of frames of a frame folder or video file."""
    path = Path(path)
    if path.is_dir():
        return len(list_frame_files(path))
    _check_file(path)
    iio = _imageio()
    suffix = path.suffix.lower()
    if suffix in _PYAV_EXTENSIONS:
        _check_pyav(path)
        n = int(iio.improps(path, plugin="pyav").shape[0])
        if n > 0:
            return n
        return sum(1 for _ in iio.imiter(path, plugin="pyav"))  # container without a frame count
    return int(iio.imread(path, index=None).shape[0])


def _check_file(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"video not found: {path}")
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise InputError(
            f"{path}: not a frame folder nor a video file (expected a folder of images or one of "
            f"{', '.join(VIDEO_EXTENSIONS)})"
        )


def _select(n: int, indices: Sequence[int] | None, path: Path) -> list[int]:
    if indices is None:
        return list(range(n))
    idx = [int(i) for i in indices]
    bad = [i for i in idx if i < 0 or i >= n]
    if bad:
        raise IndexError(f"{path}: frame index {bad[0]} out of range for a video of {n} frames")
    return idx


def read_frames(path: str | Path, indices: Sequence[int] | None = None) -> Tensor:
    """Frames of a video (folder of images or video file) -> ``float32 [T, 3, H, W]`` in [0, 1].

    ``indices`` (frame numbers, 0-based, any order, repeats allowed) selects
    frames; only what is needed is decoded (video files stop at the last
    requested frame). ``None`` reads every frame.
    """
    path = Path(path)
    iio = _imageio()
    if path.is_dir():
        files = list_frame_files(path)
        idx = _select(len(files), indices, path)
        images: list[np.ndarray] = []
        for i in idx:
            img = np.asarray(iio.imread(files[i]))
            if img.ndim == 2:
                img = img[..., None]
            if images and img.shape[:2] != images[0].shape[:2]:
                raise InputError(
                    f"{files[i]}: frame size {img.shape[:2]} differs from {images[0].shape[:2]} "
                    f"of earlier frames in {path}"
                )
            images.append(img[..., :4] if img.shape[-1] > 4 else img)
        channels = max(im.shape[-1] for im in images)
        images = [np.repeat(im, 3, axis=-1) if im.shape[-1] < channels else im for im in images]
        return to_float_frames(np.stack(images), where=str(path))
    _check_file(path)
    if path.suffix.lower() in _PYAV_EXTENSIONS:
        _check_pyav(path)
        if indices is None:
            return to_float_frames(iio.imread(path, plugin="pyav"), where=str(path))
        wanted = [int(i) for i in indices]
        if any(i < 0 for i in wanted):
            raise IndexError(f"{path}: negative frame index in {wanted}")
        last, keep = max(wanted, default=-1), set(wanted)
        got: dict[int, np.ndarray] = {}
        n_seen = 0
        if last >= 0:
            for i, frame in enumerate(iio.imiter(path, plugin="pyav")):
                n_seen = i + 1
                if i in keep:
                    got[i] = np.asarray(frame)
                if i >= last:
                    break
        if len(got) < len(keep):
            raise IndexError(
                f"{path}: frame index {max(keep - set(got))} out of range for a video of {n_seen} frames"
            )
        return to_float_frames(np.stack([got[i] for i in wanted]), where=str(path))
    frames = np.asarray(iio.imread(path, index=None))
    if frames.ndim == 2:
        frames = frames[None]  # a single grey image
    idx = _select(frames.shape[0], indices, path)
    return to_float_frames(frames[idx], where=str(path))
