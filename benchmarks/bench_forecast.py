"""Forecast latency for one basin: 5 irregular inputs -> 8 outputs at 3 h, on CPU.

Usage::

    python benchmarks/bench_forecast.py                       # the shipped demo model
    python benchmarks/bench_forecast.py --checkpoint runs/natl/last.pt
    python benchmarks/bench_forecast.py --tiny                # a 1-step model (cpu_demo architecture)

Inputs are the demo world's raw CAM5-style files (40 days, 1 degree; made on first use and
cached under ``$HURRICANE_ODE_CACHE``), so the total includes opening the files, tiling and
regridding the basin, exactly what ``hurricane-ode forecast --input FILES`` does. The input
and output times are the demo forecast's (:func:`hurricane_ode.demo.demo_times`).

Rows (median and min of ``--repeat`` runs after one warm-up run):

* ``total forecast()``: :func:`hurricane_ode.forecasting.forecast` from files to Dataset
* ``  prepare (open+tile+select)``: :func:`~hurricane_ode.forecasting.prepare_request`
* ``  model only``: :func:`~hurricane_ode.forecasting.run_model` (the network, de-normalisation)
* ``  to CF Dataset``: :func:`~hurricane_ode.forecasting.request_to_dataset`
* ``write NetCDF``: :func:`hurricane_ode.io.write_dataset` of the result (atomic write)
* ``hindcast 100 inits x 8 leads``: :func:`hurricane_ode.hindcast` from the files, 100 initial
  times 3 h apart, leads 3..24 h, batched through the model (``--repeat // 5`` runs)

Weights do not change the cost, only the architecture does, so ``--tiny`` measures the
latency of a model with the ``--config`` architecture after a single training step.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import torch

from hurricane_ode.demo import DEMO, demo_tiles, demo_times, demo_world
from hurricane_ode.forecasting import (
    forecast,
    hindcast,
    load_forecaster,
    prepare_request,
    request_to_dataset,
    run_model,
)
from hurricane_ode.io import write_dataset

ROOT = Path(__file__).resolve().parents[1]


def timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    """Run ``fn`` once to warm up, then ``repeat`` times; return the wall times and last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def tiny_checkpoint(config_path: Path, workdir: Path) -> Path:
    """Train one step of the ``config_path`` architecture on the demo natl tiles."""
    from hurricane_ode.config import config_from_dict, config_to_dict, load_config
    from hurricane_ode.training.trainer import train

    values = config_to_dict(load_config(config_path))
    values["data"].update(path=str(demo_tiles(progress=False)), basin=DEMO.basin, clips_per_epoch=8)
    values["model"].update(image_size=list(DEMO.shape), adversarial=False)
    values["train"].update(
        max_steps=1, batch_size=2, device="cpu", progress=False, output_dir=str(workdir / "run")
    )
    return train(config_from_dict(values)).checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=None, help="checkpoint (default: the demo model)")
    parser.add_argument("--tiny", action="store_true", help="time a freshly made 1-step model")
    parser.add_argument(
        "--config", default=str(ROOT / "configs" / "cpu_demo.yaml"),
        help="architecture of the --tiny model",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per row")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = list(demo_world(progress=False).files)
        ckpt = tiny_checkpoint(Path(args.config), tmp) if args.tiny else args.checkpoint
        fc = load_forecaster(ckpt)
        inputs, times = demo_times()
        n_params = sum(p.numel() for p in fc.model.parameters())
        print(
            f"model {fc.config.model.name} {fc.image_size[0]}x{fc.image_size[1]}, {n_params:,} "
            f"parameters, solver {fc.config.model.solver.method} step {fc.config.model.solver.step_size}"
        )
        print(
            f"basin {DEMO.basin}: {len(inputs)} inputs (gaps "
            f"{', '.join(f'{b - a:g}' for a, b in zip(DEMO.input_offsets_h, DEMO.input_offsets_h[1:]))} h)"
            f" -> {len(times)} outputs at {DEMO.output_step_h:g} h; {len(files)} CAM5 files, "
            f"torch {torch.__version__} on CPU with {torch.get_num_threads()} threads; "
            f"{args.repeat} runs after 1 warm-up"
        )

        rows: list[tuple[str, list[float]]] = []
        t, _ = timed(lambda: forecast(fc, files, DEMO.basin, times, input_times=inputs), args.repeat)
        rows.append(("total forecast()", t))
        t, req = timed(
            lambda: prepare_request(fc, files, DEMO.basin, times, input_times=inputs), args.repeat
        )
        rows.append(("  prepare (open+tile+select)", t))
        t, frames = timed(lambda: run_model(fc, req), args.repeat)
        rows.append(("  model only", t))
        t, ds = timed(lambda: request_to_dataset(fc, req, frames), args.repeat)
        rows.append(("  to CF Dataset", t))
        t, _ = timed(lambda: write_dataset(ds, tmp / "fc.nc", overwrite=True), args.repeat)
        rows.append(("write NetCDF", t))
        # 100 initial times x 8 leads, batched (files -> Dataset)
        first = inputs[-1] + timedelta(hours=-300.0)
        inits = [first + timedelta(hours=3.0 * k) for k in range(100)]
        t, _ = timed(lambda: hindcast(fc, files, DEMO.basin, inits, "3h/24h/3h"), max(1, args.repeat // 5))
        rows.append(("hindcast 100 inits x 8 leads", t))

    print(f"{'stage':32s} {'median ms':>10s} {'min ms':>10s}")
    for name, t in rows:
        print(f"{name:32s} {1e3 * statistics.median(t):10.1f} {1e3 * min(t):10.1f}")
    total, model = statistics.median(rows[0][1]), statistics.median(rows[2][1])
    print(f"model share of the total: {100 * model / total:.0f} %")


if __name__ == "__main__":
    main()
