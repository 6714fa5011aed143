"""``hurricane-ode evaluate``: a thin shell over :func:`hurricane_ode.evaluation.evaluate`."""

from __future__ import annotations

import argparse

from hurricane_ode._cli._types import positive_int
from hurricane_ode.errors import InputError

HELP = "run the paper's experiments: baseline table (Table 5), error vs sampling rate (Fig. 6), ablation (Table 4)"
DESCRIPTION = (
    "Train every model the same way (cached in OUTPUT_DIR/models/<name>/, resumed when more steps "
    "are asked for), score them on fixed held-out clips (MSE as the paper reports it, per-variable "
    "physical MSE, PSNR, SSIM, LPIPS when its weights are installed, cyclone track and intensity "
    "errors), print the table and write CSV + a JSON record (config, seed, version, git commit, "
    "wall time). Without --config: small CPU defaults on the cached demo world (minutes); "
    "configs/experiments/paper.yaml is the paper-scale GPU setting."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--experiment",
        choices=["baselines", "sampling-rate", "ablation", "video"],
        default="baselines",
        help="baselines: Table 5 setting (5 irregular inputs, gaps <= 48 h, 5 outputs at 3 h); "
        "sampling-rate: the same models vs input sampling rate (Figure 6); "
        "ablation: Table 4 rows A-E from configuration switches; "
        "video: SSIM/LPIPS/PSNR on video datasets in the layout of Tables 1-3 (one --config per "
        "dataset and task, e.g. configs/video/bouncing_balls.yaml; repeat --config to fill the "
        "interpolation and extrapolation columns of a row; without --config: the shipped "
        "bouncing-balls checkpoints with their baselines and every configs/video dataset on disk)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE.yaml",
        default=None,
        action="append",
        help="experiment YAML (training sections + an 'experiment' section), e.g. "
        "configs/experiments/small.yaml; default: the small CPU setting. For --experiment video: a "
        "training config per dataset and task (repeatable; required)",
    )
    parser.add_argument(
        "--models",
        metavar="A,B,C",
        default=None,
        help="comma-separated model names (default: the config's experiment.models); "
        "ignored by --experiment ablation",
    )
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        default="runs/experiments",
        help="where results and the trained-model cache (DIR/models/<name>/) go",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed for training and the test clips (overrides train.seed)",
    )
    parser.add_argument(
        "--steps",
        metavar="N",
        type=positive_int,
        default=None,
        help="optimiser steps per trainable model (overrides experiment.steps)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bars (the table is still printed)"
    )


def run(args: argparse.Namespace) -> int:
    from hurricane_ode.evaluation import evaluate

    configs = (
        args.config if isinstance(args.config, list) else ([args.config] if args.config else [])
    )

    models = None
    if args.models is not None:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
        if not models:
            raise InputError(f"--models: expected comma-separated model names, got {args.models!r}")
        from hurricane_ode.models.base import available_models

        unknown = [m for m in models if m not in available_models()]
        if unknown:
            raise InputError(
                f"--models: unknown model(s) {unknown}; available: {', '.join(available_models())}"
            )
    if args.experiment == "video":  # its own module: hurricane_ode.evaluation.video
        from hurricane_ode.evaluation.video import evaluate_video

        # without --config: the shipped bouncing-balls checkpoints and the datasets found on disk
        evaluate_video(configs or None, models=models, output_dir=args.output_dir, seed=args.seed,
                       steps=args.steps, progress=not args.quiet, verbose=True)  # fmt: skip
        return 0
    if len(configs) > 1:
        raise InputError(
            f"--config: --experiment {args.experiment} takes one config, got {len(configs)}"
        )
    evaluate(
        args.experiment,
        config=configs[0] if configs else None,
        models=models,
        output_dir=args.output_dir,
        seed=args.seed,
        steps=args.steps,
        progress=not args.quiet,
        verbose=True,
    )
    return 0
