"""Training throughput and peak memory of Vid-ODE in the paper's setting.

One training step = the trainer's generator step (Eq. 7) + discriminator step (LS-GAN),
on random clips of 5 irregularly timed inputs and 5 outputs, C=3, batch 8 (by default),
for each image size x ODE solver. Every configuration runs in a fresh process so its
memory figure is its own:

* CUDA: ``torch.cuda.max_memory_allocated`` (tensor memory, exact).
* CPU: the process's peak resident set size from ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
  (Linux: KiB), reported as the peak and as the growth over the set-up (imports, model,
  optimisers) — tracemalloc does not see torch's allocations.

    .venv/bin/python benchmarks/bench_training.py                       # 64,128 x euler,rk4,dopri5
    .venv/bin/python benchmarks/bench_training.py --sizes 64 --solvers euler --steps 5 --device cpu

Figures on a shared machine are noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time


def _bench(args: dict) -> dict:
    import torch

    from hurricane_ode.config import Config, config_from_dict
    from hurricane_ode.data.clips import Clip
    from hurricane_ode.models.base import build_model
    from hurricane_ode.training.distributed import DistInfo
    from hurricane_ode.training.trainer import _build_discriminators, _train_step, resolve_device

    if args["threads"]:
        torch.set_num_threads(args["threads"])
    size, solver = args["size"], args["solver"]
    cfg: Config = config_from_dict(
        {
            "model": {
                "image_size": [size, size],
                "hidden_channels": args["hidden"],
                "adversarial": args["adversarial"],
                "solver": {"method": solver},
            },
            "train": {"batch_size": args["batch"], "device": args["device"]},
        }
    )
    device = resolve_device(cfg.train.device)
    torch.manual_seed(0)
    model = build_model(cfg.model).to(device)
    discs = _build_discriminators(cfg.model).to(device) if cfg.model.adversarial else None
    opt = torch.optim.Adamax(model.parameters(), lr=cfg.train.lr)
    opt_d = torch.optim.Adamax(discs.parameters(), lr=cfg.train.lr) if discs is not None else None
    b, t, k, c = args["batch"], 5, 5, 3
    gaps = torch.randint(1, 17, (b, t - 1)).float() * 3.0  # irregular gaps of 3..48 h
    input_times = torch.cat([torch.zeros(b, 1), gaps.cumsum(1)], 1)
    target_times = input_times[:, -1:] + 3.0 * torch.arange(1, k + 1).float()
    batch = Clip(
        inputs=torch.randn(b, t, c, size, size),
        input_times=input_times,
        input_mask=torch.ones(b, t, dtype=torch.bool),
        targets=torch.randn(b, k, c, size, size),
        target_times=target_times,
        target_mask=torch.ones(b, k, dtype=torch.bool),
    ).to(device)
    amp = cfg.train.amp if cfg.train.amp is not None else device.type == "cuda"

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step() -> None:
        _train_step(
            model, model, discs, opt, opt_d, batch, cfg, "extrapolation", autocast, DistInfo()
        )

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(args["warmup"]):
        step()
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(args["steps"]):
        step()
    sync()
    dt = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {
        "steps_per_s": args["steps"] / dt,
        "s_per_step": dt / args["steps"],
        "device": str(device),
    }
    if device.type == "cuda":
        out["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
        out["mem_kind"] = "cuda max_memory_allocated"
    else:
        out["peak_mib"] = rss1 / 1024
        out["growth_mib"] = (rss1 - rss0) / 1024
        out["mem_kind"] = "ru_maxrss"
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="image sizes (square)")
    p.add_argument("--solvers", nargs="+", default=["euler", "rk4", "dopri5"], help="ODE solvers")
    p.add_argument("--steps", type=int, default=3, help="timed training steps per configuration")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--batch", type=int, default=8, help="clips per step (paper: 8)")
    p.add_argument(
        "--hidden", type=int, default=64, help="model.hidden_channels (default config: 64)"
    )
    p.add_argument("--no-adversarial", dest="adversarial", action="store_false",
                   help="generator step only (no discriminators)")  # fmt: skip
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    a = p.parse_args(argv)
    ctx = mp.get_context("spawn")
    print(f"# batch {a.batch}, 5 inputs -> 5 outputs, C=3, hidden {a.hidden}, "
          f"adversarial {a.adversarial}; {a.steps} timed steps after {a.warmup} warm-up")  # fmt: skip
    print(
        f"{'size':>5} {'solver':>7} {'steps/s':>8} {'s/step':>8} {'peak MiB':>9} {'+MiB':>7}  device"
    )
    for size in a.sizes:
        for solver in a.solvers:
            job = {**vars(a), "size": size, "solver": solver}
            with ctx.Pool(1) as pool:
                try:
                    r = pool.apply(_bench, (job,))
                except Exception as exc:  # report and go on with the next configuration
                    print(f"{size:>5} {solver:>7}  failed: {type(exc).__name__}: {exc}")
                    continue
            growth = f"{r['growth_mib']:7.0f}" if "growth_mib" in r else f"{'-':>7}"
            print(f"{size:>5} {solver:>7} {r['steps_per_s']:8.3f} {r['s_per_step']:8.2f} "
                  f"{r['peak_mib']:9.0f} {growth}  {r['device']} ({r['mem_kind']})", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
