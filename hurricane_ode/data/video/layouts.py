"""Published video datasets laid out on local disk (never downloaded).

Each ``discover_*`` function walks a local copy and returns the videos of one
split as :class:`VideoEntry` items (a video file or a folder of frames).
A directory that does not match the expected layout raises an error that
names the path and spells out the layout.

- ``video_folder``: ``<root>/<split>/`` holding video files and/or one folder of frames per video.
- KTH Action (Schuldt et al. 2004): ``person<NN>_<action>_d<K>_uncomp.avi`` anywhere under the
  root (flat, or one folder per action as unpacked from the official zips); frame folders named
  ``person<NN>_<action>_d<K>[_uncomp]`` also work. Split by subject as in the paper:
  persons 1-16 train, 17-25 test.
- Moving GIF (Siarohin et al. 2019): ``<root>/train/`` and ``<root>/test/`` with ``.gif`` / ``.mp4``
  files (or frame folders).
- Penn Action (Zhang et al. 2013): ``<root>/frames/<id>/000001.jpg ...`` and
  ``<root>/labels/<id>.mat`` whose ``train`` field is 1 for training and -1 (or 0) for test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hurricane_ode.data.video.readers import FRAME_EXTENSIONS, VIDEO_EXTENSIONS, natural_key
from hurricane_ode.errors import InputError, InputKeyError

__all__ = [
    "VideoEntry",
    "SPLITS",
    "KTH_TRAIN_PERSONS",
    "KTH_TEST_PERSONS",
    "discover_video_folder",
    "discover_kth",
    "discover_moving_gif",
    "discover_penn_action",
]

SPLITS = ("train", "test")
"""Split names every layout understands."""
KTH_TRAIN_PERSONS = tuple(range(1, 17))
"""KTH subjects used for training (paper: 16 of 25)."""
KTH_TEST_PERSONS = tuple(range(17, 26))
"""KTH subjects held out for testing."""

_KTH_RE = re.compile(r"^person(\d+)_([a-z]+)_d(\d+)(?:_uncomp)?(?:\.avi)?$", re.IGNORECASE)


@dataclass(frozen=True)
class VideoEntry:
    """One video on disk: ``path`` is a video file or a folder of frame images."""

    path: Path
    name: str
    label: str | None = None
    """Action class when the layout gives one (KTH, Penn Action)."""


def _check_split(split: str, dataset: str) -> str:
    if split not in SPLITS:
        raise InputError(f"{dataset}: split must be one of {SPLITS}, got {split!r}")
    return split


def _check_root(root: str | Path, dataset: str, layout: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{dataset}: dataset root {root} is not a directory; expected {layout}")
    return root


def _is_frame_folder(path: Path) -> bool:
    return path.is_dir() and any(
        p.suffix.lower() in FRAME_EXTENSIONS for p in path.iterdir() if p.is_file()
    )


def _entries_in(folder: Path) -> list[VideoEntry]:
    items = []
    for p in folder.iterdir():
        if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS:
            items.append(VideoEntry(p, p.stem))
        elif _is_frame_folder(p):
            items.append(VideoEntry(p, p.name))
    return sorted(items, key=lambda e: natural_key(e.name))


def discover_video_folder(root: str | Path, split: str, dataset: str = "video_folder") -> list[VideoEntry]:
    """Videos in ``<root>/<split>/``: video files and/or one sub-folder of frames per video."""
    _check_split(split, dataset)
    layout = (
        f"<root>/{{train,test}}/ holding video files ({', '.join(VIDEO_EXTENSIONS)}) "
        "or one folder of frame images per video"
    )
    root = _check_root(root, dataset, layout)
    folder = root / split
    if not folder.is_dir():
        raise FileNotFoundError(f"{dataset}: split folder {folder} not found; expected {layout}")
    entries = _entries_in(folder)
    if not entries:
        raise InputError(f"{dataset}: no videos in {folder}; expected {layout}")
    return entries


def discover_moving_gif(root: str | Path, split: str) -> list[VideoEntry]:
    """Moving GIF (Siarohin et al. 2019): ``<root>/{train,test}/*.gif|*.mp4`` (or frame folders)."""
    return discover_video_folder(root, split, dataset="Moving GIF")


def discover_kth(root: str | Path, split: str) -> list[VideoEntry]:
    """KTH Action videos of one split, by subject (train: persons 1-16, test: 17-25)."""
    dataset = "KTH Action"
    _check_split(split, dataset)
    layout = (
        "files person<NN>_<action>_d<K>_uncomp.avi (e.g. person01_walking_d1_uncomp.avi) anywhere "
        "under the root, or frame folders named person<NN>_<action>_d<K>"
    )
    root = _check_root(root, dataset, layout)
    persons = set(KTH_TRAIN_PERSONS if split == "train" else KTH_TEST_PERSONS)
    found: dict[str, VideoEntry] = {}
    n_matched = 0
    for p in sorted(root.rglob("person*")):
        m = _KTH_RE.match(p.name)
        if m is None:
            continue
        is_video = p.is_file() and p.suffix.lower() == ".avi"
        if not (is_video or _is_frame_folder(p)):
            continue
        n_matched += 1
        person, action, scenario = int(m.group(1)), m.group(2).lower(), int(m.group(3))
        if person not in persons:
            continue
        name = f"person{person:02d}_{action}_d{scenario}"
        found.setdefault(name, VideoEntry(p, name, label=action))
    if n_matched == 0:
        raise InputError(f"{dataset}: no KTH videos under {root}; expected {layout}")
    if not found:
        raise InputError(
            f"{dataset}: {n_matched} KTH videos under {root} but none for the {split} subjects "
            f"{min(persons)}-{max(persons)}"
        )
    return sorted(found.values(), key=lambda e: natural_key(e.name))


def discover_penn_action(root: str | Path, split: str) -> list[VideoEntry]:
    """Penn Action videos of one split, from ``labels/<id>.mat`` (field ``train``: 1 train, else test)."""
    dataset = "Penn Action"
    _check_split(split, dataset)
    layout = "<root>/frames/<id>/000001.jpg ... and <root>/labels/<id>.mat with a 'train' field"
    root = _check_root(root, dataset, layout)
    frames_dir, labels_dir = root / "frames", root / "labels"
    for d in (frames_dir, labels_dir):
        if not d.is_dir():
            raise FileNotFoundError(f"{dataset}: {d} not found; expected {layout}")
    from scipy.io import loadmat

    videos = sorted((p for p in frames_dir.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name))
    if not videos:
        raise InputError(f"{dataset}: no video folders in {frames_dir}; expected {layout}")
    entries = []
    for video in videos:
        label_file = labels_dir / f"{video.name}.mat"
        if not label_file.is_file():
            raise FileNotFoundError(f"{dataset}: label file {label_file} missing for frames {video}")
        try:
            meta = loadmat(label_file, variable_names=["train", "action"])
        except Exception as exc:  # scipy raises several types for corrupt files
            raise InputError(f"{dataset}: cannot read {label_file}: {exc}") from exc
        if "train" not in meta:
            raise InputKeyError(f"{dataset}: {label_file} has no 'train' field (1 = train, -1 = test)")
        is_train = int(meta["train"].ravel()[0]) == 1
        if is_train != (split == "train"):
            continue
        action = str(meta["action"].ravel()[0]) if "action" in meta and meta["action"].size else None
        entries.append(VideoEntry(video, video.name, label=action))
    if not entries:
        raise InputError(f"{dataset}: no {split} videos among {len(videos)} in {frames_dir}")
    return entries
