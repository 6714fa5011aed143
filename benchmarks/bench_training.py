"""Training-step speed and peak memory of Vid-ODE, through the public Trainer, beside an older commit.

For each image size x ODE solver, at the paper's setting (batch 8, 5 irregularly timed
inputs -> 5 outputs, C = 3, base 32 / hidden 128 channels by default) it times:

* ``gen``: a generator-only step (``model.adversarial = False``: Eq. 5 + 6);
* ``full``: a full step (generator + image and sequence discriminators, LS-GAN);

and prints seconds per step (the fastest of the timed steps, which is the figure least
disturbed by other load on a shared machine), steps/s and the peak memory of the process. Every
configuration runs in a fresh process (CPU: peak resident set size from
``VmHWM``; CUDA: ``max_memory_allocated``). With ``--baseline DIR`` (a
``git worktree`` of an older commit) the same configurations run from that tree in
the same session and the speed-up ratios are printed; trees from before the public
``Trainer`` existed are driven through their own private step function (that is the
only way to time them).

    git -C . worktree add ../base 27ce5bf
    python benchmarks/bench_training.py --baseline ../base
    python benchmarks/bench_training.py --sizes 64 --solvers euler --steps 2 --threads 1

Figures on a shared machine are noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

# Runs inside a fresh interpreter whose sys.path starts with the tree under test.
_SNIPPET = r'''
import json, resource, sys, time
import torch
job = json.loads(sys.argv[1])
if job["threads"]:
    torch.set_num_threads(job["threads"])
from hurricane_ode.config import config_from_dict
from hurricane_ode.data.clips import Clip
size, b, t, k, c = job["size"], job["batch"], 5, 5, 3
values = {
    "model": {"image_size": [size, size], "hidden_channels": job["hidden"], "base_channels": job["base"],
              "adversarial": job["adversarial"], "solver": {"method": job["solver"]}},
    "train": {"batch_size": b, "device": job["device"], "output_dir": job["out"], "progress": False,
              "amp": job["amp"]},
    "data": {"sampling": {"n_inputs": t, "n_targets": k}},
}
if not job["adversarial"]:
    values["model"]["disc_base_channels"] = 64
cfg = config_from_dict(values)
g = torch.Generator().manual_seed(0)
gaps = torch.randint(1, 17, (b, t - 1), generator=g).float() * 3.0  # irregular gaps of 3..48 h
input_times = torch.cat([torch.zeros(b, 1), gaps.cumsum(1)], 1)
target_times = input_times[:, -1:] + 3.0 * torch.arange(1, k + 1).float()
batch = Clip(inputs=torch.randn(b, t, c, size, size, generator=g), input_times=input_times,
             input_mask=torch.ones(b, t, dtype=torch.bool), targets=torch.randn(b, k, c, size, size, generator=g),
             target_times=target_times, target_mask=torch.ones(b, k, dtype=torch.bool))
torch.manual_seed(0)
try:
    from hurricane_ode.training.trainer import Trainer  # the public API
    class Clips(torch.utils.data.Dataset):
        def __len__(self):
            return b
        def __getitem__(self, i):
            return Clip(batch.inputs[i], batch.input_times[i], batch.input_mask[i], batch.targets[i],
                        batch.target_times[i], batch.target_mask[i])
    trainer = Trainer(cfg, Clips())
    device = trainer.device
    def step():
        trainer.step(batch)
    api = "Trainer.step"
except ImportError:  # a tree from before the public Trainer: its private step function
    from hurricane_ode.models.base import build_model
    from hurricane_ode.training.distributed import DistInfo
    from hurricane_ode.training.trainer import _build_discriminators, _train_step, resolve_device
    device = resolve_device(cfg.train.device)
    model = build_model(cfg.model).to(device)
    discs = _build_discriminators(cfg.model).to(device) if cfg.model.adversarial else None
    opt = torch.optim.Adamax(model.parameters(), lr=cfg.train.lr)
    opt_d = torch.optim.Adamax(discs.parameters(), lr=cfg.train.lr) if discs is not None else None
    amp = cfg.train.amp if cfg.train.amp is not None else device.type == "cuda"
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(amp))
    dev_batch = batch.to(device)
    def step():
        _train_step(model, model, discs, opt, opt_d, dev_batch, cfg, "extrapolation", autocast, DistInfo())
    api = "_train_step"
sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
for _ in range(job["warmup"]):
    step()
sync()
if device.type == "cuda":
    torch.cuda.reset_peak_memory_stats()
times = []
for _ in range(job["steps"]):
    t0 = time.perf_counter()
    step()
    sync()
    times.append(time.perf_counter() - t0)
dt = min(times)  # the least disturbed step: robust to other load on a shared machine
def _vm_hwm():  # this process's own peak; ru_maxrss also counts the parent's at the fork
    try:
        return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
peak = (torch.cuda.max_memory_allocated() if device.type == "cuda" else _vm_hwm()) / 2**20
print("RESULT " + json.dumps({"s_per_step": dt, "peak_mib": peak, "api": api, "device": str(device)}))
'''


def run_config(tree: Path, job: dict) -> dict:
    """Time one configuration in a fresh interpreter importing ``hurricane_ode`` from ``tree``."""
    extra = os.environ.get("PYTHONPATH")  # keep the caller's extra packages behind the tree
    path = str(tree) + (os.pathsep + extra if extra else "")
    env = {**os.environ, "PYTHONPATH": path, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-c", _SNIPPET, json.dumps(job)], env=env, cwd=str(tree),
                          capture_output=True, text=True)  # fmt: skip
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{tree}: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'no result'}")


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="image sizes (square)")
    p.add_argument("--solvers", nargs="+", default=["euler", "dopri5"], help="ODE solvers")
    p.add_argument("--modes", nargs="+", default=["gen", "full"], choices=["gen", "full"],
                   help="gen = generator-only step, full = with both discriminators")  # fmt: skip
    p.add_argument("--steps", type=int, default=3, help="timed steps per configuration")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--batch", type=int, default=8, help="clips per step (paper: 8)")
    p.add_argument("--hidden", type=int, default=128, help="model.hidden_channels")
    p.add_argument("--base", type=int, default=32, help="model.base_channels")
    p.add_argument("--device", default="cpu", help="auto, cpu or cuda[:N]")
    p.add_argument("--amp", choices=["auto", "on", "off"], default="auto", help="bf16 autocast (auto: the config default)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    p.add_argument("--baseline", type=Path, default=None, help="a worktree of the commit to compare with")
    p.add_argument("--output-dir", default="/tmp/bench_training", help="scratch run directory")
    a = p.parse_args(argv)
    here = Path(__file__).resolve().parents[1]
    trees = [("new", here)] + ([("base", a.baseline.resolve())] if a.baseline else [])
    amp = {"auto": None, "on": True, "off": False}[a.amp]
    print(f"# batch {a.batch}, 5 inputs -> 5 outputs, C=3, base {a.base} / hidden {a.hidden}, device {a.device}, "
          f"threads {a.threads or 'default'}, amp {a.amp}; {a.steps} timed steps after {a.warmup} warm-up")  # fmt: skip
    head = f"{'size':>4} {'solver':>7} {'step':>4}  {'tree':>4} {'s/step':>8} {'steps/s':>8} {'peak MiB':>9}"
    print(head + ("  speed-up" if a.baseline else ""))
    for size in a.sizes:
        for solver in a.solvers:
            for mode in a.modes:
                job = {**vars(a), "baseline": None, "size": size, "solver": solver, "amp": amp,
                       "adversarial": mode == "full", "out": f"{a.output_dir}/{size}_{solver}_{mode}"}  # fmt: skip
                res = {}
                for name, tree in trees:
                    try:
                        res[name] = r = run_config(tree, job)
                    except RuntimeError as exc:
                        print(f"{size:>4} {solver:>7} {mode:>4}  {name:>4}  failed: {exc}", flush=True)
                        continue
                    ratio = ""
                    if name == "base" and "new" in res:
                        ratio = f"  x{r['s_per_step'] / res['new']['s_per_step']:.2f}"
                    print(f"{size:>4} {solver:>7} {mode:>4}  {name:>4} {r['s_per_step']:8.3f} "
                          f"{1 / r['s_per_step']:8.3f} {r['peak_mib']:9.0f}{ratio}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
