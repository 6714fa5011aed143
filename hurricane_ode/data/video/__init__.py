"""RGB / grey video sources yielding the same :class:`~hurricane_ode.data.clips.Clip` as climate data.

Frames are ``float32`` in ``[0, 1]``; clip times are in frame units. Importing
this package registers the sources ``bouncing_balls``, ``video_folder``, ``kth``,
``moving_gif`` and ``penn_action`` with :func:`hurricane_ode.data.sources.build_dataset`.
Reading video files needs the optional extra ``video`` (imageio + PyAV).
"""

from hurricane_ode.data.video import registry as _registry  # noqa: F401  (registers sources)
from hurricane_ode.data.video.bouncing_balls import (
    bouncing_balls_video,
    render_balls,
    simulate_bouncing_balls,
)
from hurricane_ode.data.video.dataset import (
    PAPER_BOUNCING_BALLS,
    PAPER_EXTRAPOLATION,
    PAPER_INTERPOLATION,
    VIDEO_TASKS,
    BouncingBallsDataset,
    VideoClipDataset,
    task_name,
    to_channels,
)
from hurricane_ode.data.video.layouts import (
    VideoEntry,
    discover_kth,
    discover_moving_gif,
    discover_penn_action,
    discover_video_folder,
)
from hurricane_ode.data.video.readers import count_frames, list_frame_files, read_frames
from hurricane_ode.data.video.transforms import (
    augment_frames,
    center_crop,
    center_crop_resize,
    hflip,
    resize,
    rotate,
)

__all__ = [
    "PAPER_BOUNCING_BALLS",
    "PAPER_EXTRAPOLATION",
    "PAPER_INTERPOLATION",
    "VIDEO_TASKS",
    "BouncingBallsDataset",
    "VideoClipDataset",
    "VideoEntry",
    "augment_frames",
    "bouncing_balls_video",
    "center_crop",
    "center_crop_resize",
    "count_frames",
    "discover_kth",
    "discover_moving_gif",
    "discover_penn_action",
    "discover_video_folder",
    "hflip",
    "list_frame_files",
    "read_frames",
    "render_balls",
    "resize",
    "rotate",
    "simulate_bouncing_balls",
    "task_name",
    "to_channels",
]
