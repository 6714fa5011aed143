"""Frames at arbitrary times and a frame-strip figure (the paper's Figure 8 view).

:func:`predict_at_times` asks a trained model for frames at any query times (e.g.
``t = 2.25, 2.5, 2.75`` between inputs, or between trained target steps); the model
sees only the clip's inputs. :func:`save_frame_strip` draws rows of frames against
a shared time axis (a blank cell where a row has no frame at that time) and writes a
PNG atomically. Needs matplotlib (the ``plot`` extra) for the figure only.
:func:`forecast_video_file` runs a checkpoint on a real video file (what
``hurricane-ode video`` does) and :func:`write_video` writes frames as MP4 or GIF.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from hurricane_ode.data.clips import Clip
from hurricane_ode.errors import InputError

__all__ = ["predict_at_times", "save_frame_strip", "write_video", "forecast_video_file"]


@torch.no_grad()
def predict_at_times(model: nn.Module, clip: Clip, times: Sequence[float]) -> Tensor:
    """Frames ``[K, C, H, W]`` (clamped to [0, 1]) at ``times`` (clip units, ascending) from ``clip``'s inputs.

    ``clip`` is unbatched; its targets are ignored.
    """
    if clip.batched:
        raise InputError("predict_at_times: give one unbatched clip")
    q = torch.as_tensor(list(times), dtype=torch.float32)
    if q.numel() == 0 or bool((q[1:] < q[:-1]).any()):
        raise InputError(f"predict_at_times: times must be non-empty and ascending, got {list(times)}")
    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    model.eval()
    out = model(
        clip.inputs[None].to(device),
        clip.input_times[None].to(device),
        q[None].to(device),
        clip.input_mask[None].to(device),
    ).frames[0]
    return out.float().clamp(0.0, 1.0).cpu()


def _image(frame: Tensor):
    x = frame.detach().float().clamp(0, 1).cpu()
    if x.shape[0] == 1:
        return x[0].numpy(), "gray"
    if x.shape[0] == 3:
        return x.permute(1, 2, 0).numpy(), None
    raise InputError(f"save_frame_strip: frames must have 1 or 3 channels, got {x.shape[0]}")


def save_frame_strip(
    rows: Mapping[str, Mapping[float, Tensor]],
    path: str | Path,
    title: str | None = None,
    highlight: Sequence[float] = (),
    cell_inches: float = 1.1,
    dpi: int = 120,
) -> Path:
    """Write a grid of frames: one row per entry of ``rows`` (label -> {time: frame ``[C, H, W]``}).

    Columns are the sorted union of all times, labelled ``t = ...``; times in
    ``highlight`` (e.g. the queried in-between times) get a red label. Returns ``path``.
    """
    import matplotlib

    matplotlib.use(os.environ.get("MPLBACKEND", "Agg"), force=False)
    import matplotlib.pyplot as plt

    if not rows or not any(rows.values()):
        raise InputError("save_frame_strip: no frames to draw")
    times = sorted({float(t) for r in rows.values() for t in r})
    marked = {round(float(t), 6) for t in highlight}
    fig, axes = plt.subplots(
        len(rows), len(times), figsize=(cell_inches * len(times), cell_inches * len(rows) + 0.4),
        squeeze=False,
    )  # fmt: skip
    for i, (label, frames) in enumerate(rows.items()):
        by_time = {round(float(t), 6): f for t, f in frames.items()}
        for j, t in enumerate(times):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            f = by_time.get(round(t, 6))
            if f is None:
                ax.axis("off")
            else:
                img, cmap = _image(f)
                ax.imshow(img, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            if i == 0:
                ax.set_title(f"t = {t:g}", fontsize=8, color="red" if round(t, 6) in marked else "black")
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
                if f is None:  # keep the row label visible on an empty first cell
                    ax.axis("on")
                    ax.set_frame_on(False)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _default_times(task: str, input_times: Sequence[float], n_targets: int, stride: int) -> list[float]:
    """Extrapolation: ``n_targets`` frames after the last input; interpolation: every frame between inputs."""
    if task == "extrapolation":
        return [float(input_times[-1] + stride * k) for k in range(1, n_targets + 1)]
    inside = range(int(input_times[0]) + 1, int(input_times[-1]))
    return [float(t) for t in inside if float(t) not in set(map(float, input_times))]


def _write_png(frame: Tensor, path: Path, scale: int) -> None:
    import imageio.v3 as iio

    img = _to_uint8(frame[None], scale)[0]
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    iio.imwrite(tmp, img)
    os.replace(tmp, path)


def _to_uint8(frames: Tensor, scale: int):
    """``[T, C, H, W]`` in [0, 1] -> uint8 ``[T, H * scale, W * scale, 3]`` (grey repeated, nearest upscaling)."""
    x = frames.detach().float().clamp(0, 1).cpu()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if scale > 1:
        x = x.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)
    return (x * 255.0 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def write_video(frames: Tensor, path: str | Path, fps: float = 4.0, scale: int = 1) -> Path:
    """Write ``[T, C, H, W]`` frames in [0, 1] as an H.264 MP4 (PyAV) or a GIF, by ``path``'s suffix.

    An ``.mp4`` falls back to a ``.gif`` beside it when PyAV or its H.264 encoder is missing.
    Frame sides are padded to even sizes for H.264. Written atomically; returns the path written.
    """
    import imageio.v3 as iio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = _to_uint8(frames, scale)
    if path.suffix.lower() == ".mp4":
        try:
            import av

            if "libx264" not in av.codecs_available:
                raise ImportError("PyAV has no libx264 encoder")
            h, w = img.shape[1:3]
            img = np.pad(img, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
            tmp = path.with_name(f".{path.stem}.tmp.mp4")
            iio.imwrite(tmp, img, plugin="pyav", codec="libx264", fps=fps,
                        out_pixel_format="yuv420p")  # fmt: skip
            os.replace(tmp, path)
            return path
        except ImportError:
            path = path.with_suffix(".gif")
    if path.suffix.lower() != ".gif":
        raise InputError(f"write_video: {path} must end in .mp4 or .gif")
    tmp = path.with_name(f".{path.stem}.tmp.gif")
    iio.imwrite(tmp, img, duration=1000.0 / fps, loop=0)
    os.replace(tmp, path)
    return path


def forecast_video_file(
    video: str | Path,
    output_dir: str | Path,
    checkpoint: str | Path | None = None,
    times: Sequence[float] | None = None,
    start: int = 0,
    stride: int | None = None,
    video_format: str = "mp4",
    fps: float = 4.0,
) -> dict:
    """Forecast frames of a video file (or frame folder) with a trained model; write PNGs and a video.

    The model's ``n_inputs`` frames ``start, start + stride, ...`` are read with the
    project's reader, centre-cropped and resized to the model's frame size (the paper's
    preprocessing) and converted to its channels. Times are frame units since the first
    input (frame ``start`` is ``t = 0``).

    Parameters
    ----------
    video : str or Path
        MP4 / AVI / GIF / ... file or a folder of frame images.
    output_dir : str or Path
        Gets ``input_XX.png``, ``pred_XX.png``, ``truth_XX.png`` (where the video has that
        frame), ``forecast.mp4`` (or ``.gif``: inputs then predictions), ``strip.png`` when
        matplotlib is installed and ``forecast.json`` (times, files, PSNR per frame vs truth).
    checkpoint : str or Path, optional
        Checkpoint file or run directory; default: the shipped ``bouncing_balls.pt``.
    times : sequence of float, optional
        Query times (ascending; fractions allowed); default: the model's task, i.e. its
        ``n_targets`` frames after the last input, or the frames between the inputs.
    start : int
        Frame number of the first input.
    stride : int, optional
        Frames between inputs; default ``round(1 / sampling_rate)`` of the model's training data.
    video_format : str
        ``mp4`` (H.264; falls back to GIF without PyAV) or ``gif``.
    fps : float
        Frame rate of the written video.

    Returns
    -------
    dict
        The record also written to ``forecast.json``.
    """
    import json
    import math

    from hurricane_ode.data.video.dataset import to_channels
    from hurricane_ode.data.video.readers import count_frames, read_frames
    from hurricane_ode.data.video.transforms import center_crop_resize
    from hurricane_ode.evaluation.video_checkpoints import shipped_checkpoint
    from hurricane_ode.training.checkpoint import load_model

    ckpt = Path(checkpoint) if checkpoint is not None else shipped_checkpoint()
    model, meta = load_model(ckpt)
    cfg = meta["config"]
    s = cfg.data.sampling
    stride = int(stride) if stride is not None else max(1, round(1.0 / s.sampling_rate))
    n_in = int(s.n_inputs)
    if start < 0 or stride < 1:
        raise InputError(f"forecast_video_file: need start >= 0 and stride >= 1, got {start}, {stride}")
    n_frames = count_frames(video)
    in_idx = [start + stride * k for k in range(n_in)]
    if in_idx[-1] >= n_frames:
        raise InputError(
            f"{video}: {n_frames} frames, but {n_in} inputs from frame {start} every {stride} need "
            f"{in_idx[-1] + 1}; lower --start or --stride"
        )
    in_t = [float(i - start) for i in in_idx]
    q = [float(t) for t in times] if times is not None else _default_times(s.task, in_t, int(s.n_targets), stride)
    truth_idx = {t: start + int(t) for t in q if float(t).is_integer() and 0 <= start + int(t) < n_frames}
    wanted = sorted(set(in_idx) | set(truth_idx.values()))
    frames = read_frames(video, wanted)
    frames = to_channels(center_crop_resize(frames, tuple(cfg.model.image_size)), cfg.model.in_channels)
    at = {f: frames[j] for j, f in enumerate(wanted)}
    inputs = torch.stack([at[i] for i in in_idx])
    clip = Clip(inputs, torch.tensor(in_t), torch.ones(n_in, dtype=torch.bool), inputs[:1],
                torch.tensor(in_t[:1]), torch.ones(1, dtype=torch.bool))  # fmt: skip
    pred = predict_at_times(model, clip, q)

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    scale = max(1, 128 // max(inputs.shape[-2:]))
    record: dict = {"video": str(video), "checkpoint": str(ckpt), "input_frames": in_idx, "input_times": in_t,
                    "query_times": q, "files": {"inputs": [], "predictions": [], "truth": []}, "psnr": {}}  # fmt: skip
    for k, f in enumerate(inputs):
        _write_png(f, out / f"input_{k:02d}.png", scale)
        record["files"]["inputs"].append(f"input_{k:02d}.png")
    for k, (t, f) in enumerate(zip(q, pred)):
        _write_png(f, out / f"pred_{k:02d}.png", scale)
        record["files"]["predictions"].append(f"pred_{k:02d}.png")
        if t in truth_idx:
            true = at[truth_idx[t]]
            _write_png(true, out / f"truth_{k:02d}.png", scale)
            record["files"]["truth"].append(f"truth_{k:02d}.png")
            mse = float(((f - true.clamp(0, 1)) ** 2).mean())
            record["psnr"][f"{t:g}"] = 10.0 * math.log10(1.0 / max(mse, 1e-12))
    order = sorted(range(n_in + len(q)), key=lambda j: (in_t + q)[j])
    sequence = torch.cat([inputs, pred])[order]
    record["files"]["video"] = write_video(sequence, out / f"forecast.{video_format}", fps, scale).name
    try:
        rows = {"input": dict(zip(in_t, inputs)), "model": dict(zip(q, pred))}
        if truth_idx:
            rows["truth"] = {t: at[i] for t, i in truth_idx.items()}
        record["files"]["strip"] = save_frame_strip(rows, out / "strip.png", highlight=q).name
    except ImportError:
        pass
    tmp = out / ".forecast.json.tmp"
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, out / "forecast.json")
    return record
