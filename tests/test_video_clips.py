"""Real clips: write an MP4 (H.264, else MJPEG AVI), decode it with the project's reader, crop and
resize it as the paper does, forecast from it (API and `hurricane-ode video`), and the shipped checkpoint."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from hurricane_ode.cli import main
from hurricane_ode.data.video import (
    bouncing_balls_video,
    center_crop_resize,
    count_frames,
    read_frames,
)
from hurricane_ode.evaluation.video_checkpoints import shipped_checkpoint
from hurricane_ode.evaluation.video_strip import forecast_video_file, write_video

iio = pytest.importorskip("imageio.v3")
av = pytest.importorskip("av", reason="PyAV (extra 'video') writes and decodes MP4/AVI")

N_FRAMES, SIDE, PAD = 24, 64, 16  # balls on a 64 x 64 square inside a 64 x 96 frame


def balls_clip(path, seed: int = 7) -> torch.Tensor:
    """Write 3 grey bouncing balls (64 x 64, centred in a 64 x 96 black frame) as a real video file.

    H.264 MP4 when PyAV has libx264, else MJPEG AVI. Returns the source frames ``[T, 1, 64, 64]``.
    """
    frames, _ = bouncing_balls_video(seed, N_FRAMES, size=SIDE)
    rgb = (frames.expand(-1, 3, -1, -1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    wide = np.zeros((N_FRAMES, SIDE, SIDE + 2 * PAD, 3), np.uint8)
    wide[:, :, PAD : PAD + SIDE] = rgb
    if "libx264" in av.codecs_available and path.suffix == ".mp4":
        iio.imwrite(path, wide, plugin="pyav", codec="libx264", fps=10, out_pixel_format="yuv420p")
    else:
        iio.imwrite(path, wide, plugin="pyav", codec="mjpeg", fps=10, out_pixel_format="yuvj420p")
    return frames


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    codec_ok = "libx264" in av.codecs_available
    path = tmp_path_factory.mktemp("clip") / ("balls.mp4" if codec_ok else "balls.avi")
    return path, balls_clip(path)


def test_decode_crop_and_resize_like_the_paper(clip_file):
    path, source = clip_file
    assert count_frames(path) == N_FRAMES
    frames = read_frames(path)
    assert frames.shape == (N_FRAMES, 3, SIDE, SIDE + 2 * PAD) and frames.dtype == torch.float32
    square = center_crop_resize(frames, (32, 32))  # the central 64 x 64 window, then 32 x 32
    assert square.shape == (N_FRAMES, 3, 32, 32)
    want = center_crop_resize(source, (32, 32))
    # lossy codec: close to the source on average, and the balls are where they were
    assert float((square.mean(1, keepdim=True) - want).abs().mean()) < 0.03
    assert float(read_frames(path, [5])[0, :, :, :PAD].max()) < 0.1  # the black side bands are cropped away


def test_forecast_from_the_real_clip_with_the_shipped_model(clip_file, tmp_path):
    path, source = clip_file
    rec = forecast_video_file(path, tmp_path / "out")
    out = tmp_path / "out"
    assert rec["input_frames"] == list(range(10)) and rec["query_times"] == [float(t) for t in range(10, 20)]
    for name in [*rec["files"]["inputs"], *rec["files"]["predictions"], *rec["files"]["truth"]]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(rec["files"]["predictions"]) == len(rec["files"]["truth"]) == 10
    assert count_frames(out / rec["files"]["video"]) == 20  # inputs then predictions
    assert all(math.isfinite(v) and v > 5.0 for v in rec["psnr"].values())
    assert json.loads((out / "forecast.json").read_text())["query_times"] == rec["query_times"]
    pred = iio.imread(out / "pred_00.png")
    assert pred.shape == (128, 128, 3)  # 32 x 32 frames upscaled 4x (nearest) for viewing
    assert not list(out.glob(".*tmp*"))


def test_video_cli_fractional_times_gif_and_errors(clip_file, tmp_path, capsys):
    path, _ = clip_file
    out = tmp_path / "cli"
    rc = main(["video", "--input", str(path), "--output", str(out), "--times", "9.25,9.5,10,10.5",
               "--start", "2", "--format", "gif"])  # fmt: skip
    assert rc == 0
    rec = json.loads((out / "forecast.json").read_text())
    assert rec["input_frames"] == list(range(2, 12)) and rec["query_times"] == [9.25, 9.5, 10.0, 10.5]
    assert list(rec["psnr"]) == ["10"]  # only t = 10 (frame 12) exists in the video
    assert (out / "forecast.gif").exists() and "PSNR" in capsys.readouterr().out
    assert main(["video", "--input", str(path), "--output", str(out), "--start", "20"]) == 2
    assert main(["video", "--input", str(tmp_path / "none.mp4"), "--output", str(out)]) == 2
    assert main(["video", "--input", str(path), "--output", str(out), "--times", "1,x"]) == 2


def test_write_video_mp4_and_gif(tmp_path):
    frames = torch.rand(5, 1, 9, 11)
    mp4 = write_video(frames, tmp_path / "a.mp4")
    assert count_frames(mp4) == 5
    back = read_frames(mp4)
    assert back.shape[-2:] == (10, 12)  # padded to even sides for H.264
    gif = write_video(frames, tmp_path / "b.gif", scale=2)
    assert read_frames(gif).shape == (5, 3, 18, 22)
    with pytest.raises(ValueError, match="mp4 or .gif"):
        write_video(frames, tmp_path / "c.webp")


def test_shipped_checkpoint_is_small_and_loads():
    from hurricane_ode.training.checkpoint import load_model

    path = shipped_checkpoint()
    assert path.stat().st_size < 4 * 2**20
    model, meta = load_model(path)
    cfg = meta["config"]
    s = cfg.data.sampling
    assert (s.n_inputs, s.n_targets, s.task) == (10, 10, "extrapolation")
    assert tuple(cfg.model.image_size) == (32, 32) and meta["step"] > 0
    with pytest.raises(ValueError, match="unknown name"):
        shipped_checkpoint("nope.pt")
