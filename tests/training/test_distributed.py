"""DDP: two CPU processes (gloo) launched by torchrun end with identical weights."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from hurricane_ode.training.checkpoint import load_checkpoint

HERE = Path(__file__).parent

SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import torch
    sys.path.insert(0, {here!r})
    from test_trainer import MemoryClips, tiny_config
    from hurricane_ode.training.trainer import train

    torch.set_num_threads(1)
    root = Path(sys.argv[1])
    # 8 clips over 2 ranks, batch 2 per rank: 2 steps per epoch; 3 steps cross an epoch.
    cfg = tiny_config(root / "run", max_steps=3, batch_size=2, checkpoint_every=2)
    result = train(cfg, dataset=MemoryClips(8))
    rank = int(os.environ["RANK"])
    assert (result.checkpoint is None) == (rank != 0)
    torch.save(
        {{"model": result.model.state_dict(), "disc": result.discriminators.state_dict(),
          "metrics": result.metrics, "world": int(os.environ["WORLD_SIZE"])}},
        root / f"rank{{rank}}.pt",
    )
    """
)


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed unavailable")
def test_two_gloo_ranks_end_with_identical_weights(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT.format(here=str(HERE)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(script), str(tmp_path)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert r0["world"] == r1["world"] == 2
    for part in ("model", "disc"):
        for k, v in r0[part].items():
            assert torch.equal(v, r1[part][k]), f"{part}.{k} differs between ranks"
    r0["metrics"].pop("steps_per_s"), r1["metrics"].pop("steps_per_s")
    assert r0["metrics"] == r1["metrics"]  # loss terms are averaged over ranks
    # only rank 0 wrote the run directory; its checkpoint holds the shared weights
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == [
        "config.yaml", "last.pt", "metrics.csv", "step_000000002.pt", "step_000000003.pt",
    ]  # fmt: skip
    state = load_checkpoint(run)
    assert state["step"] == 3 and state["epoch"] == 1 and state["batch_in_epoch"] == 1
    for k, v in state["model"].items():
        assert torch.equal(v, r0["model"][k])
    init = torch.load(run / "step_000000002.pt", weights_only=True)["model"]
    assert any(not torch.equal(init[k], v) for k, v in state["model"].items())
