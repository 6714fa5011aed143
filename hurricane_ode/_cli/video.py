"""``hurricane-ode video``: forecast frames of a real video file with a trained video checkpoint."""

from __future__ import annotations

import argparse

from hurricane_ode._cli._types import HelpFormatter
from hurricane_ode.errors import InputError

HELP = "forecast frames of a video file (MP4/AVI/GIF or a frame folder); write PNGs and an MP4/GIF"
DESCRIPTION = (
    "Read the model's input frames from a video with the project's reader, centre-crop and resize "
    "them to the model's frame size as the paper does, and predict frames at the model's target "
    "times or at any --times (frame units since the first input, fractions allowed). Writes "
    "input_XX.png, pred_XX.png, truth_XX.png (where the video has that frame), forecast.mp4 "
    "(H.264; GIF without PyAV), strip.png and forecast.json (with PSNR against the true frames). "
    "Without --checkpoint the shipped bouncing-balls model is used."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = HelpFormatter
    parser.add_argument("--input", required=True, metavar="VIDEO", help="video file or folder of frame images")
    parser.add_argument("--output", required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--checkpoint", default=None, metavar="FILE",
        help="checkpoint file or training run directory (default: the shipped bouncing_balls.pt)",
    )  # fmt: skip
    parser.add_argument(
        "--times", default=None, metavar="T1,T2,...",
        help="query times in frames since the first input, ascending, e.g. 10,10.5,11 "
        "(default: the model's task: its n_targets frames after the inputs, or the frames between them)",
    )  # fmt: skip
    parser.add_argument("--start", type=int, default=0, metavar="N", help="frame number of the first input")
    parser.add_argument(
        "--stride", type=int, default=None, metavar="K",
        help="frames between inputs (default: as the model was trained, e.g. 2 for the interpolation task)",
    )  # fmt: skip
    parser.add_argument("--format", choices=["mp4", "gif"], default="mp4", help="written video format")
    parser.add_argument("--fps", type=float, default=4.0, help="frame rate of the written video")


def _times(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise InputError(f"--times: expected comma-separated numbers, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from hurricane_ode.evaluation.video_strip import forecast_video_file

    rec = forecast_video_file(
        args.input, args.output, checkpoint=args.checkpoint, times=_times(args.times), start=args.start,
        stride=args.stride, video_format=args.format, fps=args.fps,
    )  # fmt: skip
    psnr = ", ".join(f"t={t}: {v:.2f} dB" for t, v in rec["psnr"].items())
    print(f"{len(rec['query_times'])} frames at t = {rec['query_times']} -> {args.output} "
          f"({rec['files']['video']}){'; PSNR ' + psnr if psnr else ''}")  # fmt: skip
    return 0
