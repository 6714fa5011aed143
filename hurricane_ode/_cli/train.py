"""``hurricane-ode train``: a thin shell over :func:`hurricane_ode.training.trainer.train`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from hurricane_ode.errors import ConfigError

HELP = "train a model (Vid-ODE or a baseline) from a YAML config; resumable, DDP under torchrun"
DESCRIPTION = (
    "Train the model described by a YAML config (see configs/default.yaml for every key and its "
    "default). Checkpoints (last.pt, step_*.pt), metrics.csv and config.yaml go to the output "
    "directory. For several GPUs/processes launch with "
    "`torchrun --nproc_per_node N -m hurricane_ode.cli train ...`."
)


#: --dataset names accepted besides the registered source names
DATASET_ALIASES = {"video": "video_folder"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE.yaml",
        default=None,
        help="YAML config file; keys left out take the defaults of hurricane_ode.config",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in the output directory exactly where its last.pt stopped",
    )
    parser.add_argument(
        "--resume-from",
        metavar="CKPT",
        default=None,
        help="start from this checkpoint (weights, optimisers, step) into the output directory: "
        "a second training stage with, e.g., another loss weight (the model config must match)",
    )
    parser.add_argument(
        "--init-from",
        metavar="CKPT",
        default=None,
        help="start a new run from this checkpoint's generator weights only (any checkpoint, the "
        "shipped model included): fine-tuning with fresh optimisers and discriminators, step 0",
    )
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        default=None,
        help="run directory (overrides train.output_dir)",
    )
    parser.add_argument(
        "--max-steps",
        metavar="N",
        type=int,
        default=None,
        help="stop after N optimiser steps in total (overrides train.max_steps)",
    )
    parser.add_argument(
        "--device",
        metavar="D",
        default=None,
        help="auto, cpu, cuda or cuda:N (overrides train.device)",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (overrides train.seed)")
    parser.add_argument(
        "--dataset",
        metavar="NAME",
        default=None,
        help="clip source (overrides data.source): tiles, bouncing_balls, kth, moving_gif, "
        "penn_action, video_folder (alias: video) or any registered source. Video sources need a "
        "matching model: start from a configs/video/*.yaml (model.time_scale 1.0 for frame units)",
    )
    parser.add_argument(
        "--path",
        metavar="DIR",
        default=None,
        help="dataset root: a tile store, or the local copy of a video dataset (overrides data.path)",
    )
    parser.add_argument(
        "--stores",
        metavar="STORE[::BASIN]",
        nargs="+",
        default=None,
        help="several tile stores (or basins) combined into one training set (overrides "
        "data.paths); normalisation statistics pooled over their train periods",
    )
    parser.add_argument(
        "--crop",
        metavar=("H", "W"),
        type=int,
        nargs=2,
        default=None,
        help="train on random H x W crops of the basin tiles, e.g. --crop 64 64 (data.crop); "
        "validation keeps whole basins",
    )
    parser.add_argument(
        "--storm-crop-prob",
        metavar="P",
        type=float,
        default=None,
        help="probability that a crop is centred on a storm (data.storm_crop_prob)",
    )
    parser.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        dest="overrides",
        help="override any config key with a dotted path, e.g. --set train.batch_size=4 "
        "--set model.solver.method=rk4 (VALUE is parsed as YAML); repeatable",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Set ``section.key[.sub]=value`` entries (values parsed as YAML) in a nested config dict."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE (e.g. train.batch_size=4), got {item!r}")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        node: Any = values
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node, dict) or part not in node:
                raise ConfigError(f"--set {key}: unknown config section '{'.'.join(parts[: i + 1])}'")
            node = node[part]
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: '{'.'.join(parts[:-1])}' is not a config section")
        if parts[-1] not in node:
            raise ConfigError(
                f"--set {key}: unknown key '{parts[-1]}' in section "
                f"'{'.'.join(parts[:-1]) or 'config'}'; expected some of {sorted(node)}"
            )
        node[parts[-1]] = yaml.safe_load(raw)
    return values


def run(args: argparse.Namespace) -> int:
    from hurricane_ode.config import Config, config_from_dict, config_to_dict, load_config
    from hurricane_ode.evaluation.validation import validator_from_config
    from hurricane_ode.training.trainer import train

    if args.resume and args.resume_from:
        raise ConfigError("--resume and --resume-from exclude each other")
    if args.resume_from and not Path(args.resume_from).is_file():
        raise FileNotFoundError(f"--resume-from: no checkpoint at {args.resume_from}")
    if args.init_from and (args.resume or args.resume_from):
        raise ConfigError("--init-from starts a new run; it excludes --resume and --resume-from")
    if args.init_from and not Path(args.init_from).is_file():
        raise FileNotFoundError(f"--init-from: no checkpoint at {args.init_from}")
    config = load_config(args.config) if args.config else Config()
    values = apply_overrides(config_to_dict(config), args.overrides)
    if args.dataset is not None:
        from hurricane_ode.data.sources import available_sources

        name = DATASET_ALIASES.get(args.dataset, args.dataset)
        if name not in available_sources():
            raise ConfigError(
                f"--dataset: unknown clip source {args.dataset!r}; available: "
                f"{', '.join(available_sources())} (alias: video = video_folder)"
            )
        values["data"]["source"] = name
    if args.path is not None:
        values["data"]["path"] = args.path
    if args.stores is not None:
        values["data"]["paths"] = list(args.stores)
    if args.crop is not None:
        values["data"]["crop"] = list(args.crop)
    if args.storm_crop_prob is not None:
        values["data"]["storm_crop_prob"] = args.storm_crop_prob
    data = values["data"]
    if data["source"] == "tiles" and data.get("path") is None and not data.get("paths"):
        import sys

        from hurricane_ode.demo import demo_tiles

        data["path"] = str(demo_tiles(progress=not args.quiet))
        print(f"data.path is null: training on the demo world's tiles {data['path']}", file=sys.stderr)
    train_values = values["train"]
    if args.output_dir is not None:
        train_values["output_dir"] = args.output_dir
    if args.max_steps is not None:
        train_values["max_steps"] = args.max_steps
    if args.device is not None:
        train_values["device"] = args.device
    if args.seed is not None:
        train_values["seed"] = args.seed
    if args.quiet:
        train_values["progress"] = False
    config = config_from_dict(values)
    resume = args.resume_from if args.resume_from else bool(args.resume)
    result = train(config, resume=resume, validate=validator_from_config(config), init_from=args.init_from)
    if result.checkpoint is not None:
        summary = ", ".join(f"{k}={v:.4g}" for k, v in sorted(result.metrics.items()))
        print(f"step {result.step} (epoch {result.epoch}): {summary}")
        print(f"checkpoint: {result.checkpoint}")
    return 0
