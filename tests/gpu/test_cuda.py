"""CUDA paths: the same model, trainer, checkpoints and forecasts on a GPU as on the CPU.

Skipped where CUDA is absent (CI); the CPU tests of the same logic are
tests/training/test_trainer*.py, test_distributed.py and tests/test_forecast.py. Run them on a
GPU machine with ``pytest tests/gpu``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

TRAINING = Path(__file__).resolve().parents[1] / "training"
if str(TRAINING) not in sys.path:
    sys.path.insert(0, str(TRAINING))


@pytest.fixture(autouse=True)
def _full_fp32():
    """fp32 matmuls and convs, no TF32, so CPU and GPU differ by summation order only."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def _shipped_batch():
    from hurricane_ode.models.inference import load_forecaster

    fc = load_forecaster(None)
    g = torch.Generator().manual_seed(0)
    h, w = 60, 160
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    frames = []
    for k in range(5):  # a vortex moving 1 cell per 6 h on smooth noise
        r2 = (yy - 30.0) ** 2 + (xx - 60.0 - k) ** 2
        vortex = -3.0 * torch.exp(-r2 / 8.0)
        frames.append(
            torch.stack([vortex * 0.3, -vortex * 0.3, vortex])
            + 0.1 * torch.randn(3, h, w, generator=g)
        )
    x = torch.stack(frames)[None].float()
    t = torch.tensor([[0.0, 6.0, 12.0, 18.0, 24.0]])
    q = torch.tensor([[27.0, 30.0, 36.0, 48.0, 72.0]])
    return fc, x, t, q, torch.ones(1, 5, dtype=torch.bool)


def test_shipped_model_forecasts_the_same_on_cuda():
    fc, x, t, q, m = _shipped_batch()
    with torch.no_grad():
        cpu = fc.model.eval()(x, t, q, m).frames
        gpu = fc.model.cuda().eval()(x.cuda(), t.cuda(), q.cuda(), m.cuda()).frames.cpu()
    assert torch.isfinite(gpu).all()
    scale = cpu.abs().max()
    assert (gpu - cpu).abs().max() <= 1e-4 * scale, float((gpu - cpu).abs().max() / scale)


def _trainer(tmp_path, device, **train):
    from test_trainer import MemoryClips, tiny_config

    from hurricane_ode.training.trainer import Trainer

    torch.manual_seed(0)
    return Trainer(tiny_config(tmp_path, device=device, **train), MemoryClips(8))


def _batch():
    from test_trainer import MemoryClips

    from hurricane_ode.data.clips import collate_clips

    data = MemoryClips(8)
    return collate_clips([data[i] for i in range(2)])


def test_training_steps_match_the_cpu_and_checkpoints_move_between_devices(tmp_path):
    batch = _batch()
    cpu = _trainer(tmp_path / "cpu", "cpu", amp=False)
    gpu = _trainer(tmp_path / "gpu", "cuda", amp=False)
    assert next(gpu.model.parameters()).is_cuda
    for _ in range(3):
        a, b = cpu.step(batch), gpu.step(batch)
        for k in ("loss", "recon", "diff", "d_img", "d_seq"):
            assert float(b[k]) == pytest.approx(float(a[k]), rel=2e-3, abs=1e-5), k
    path = gpu.save(tmp_path / "gpu.pt")
    # a CUDA checkpoint resumes on the CPU with the same weights, and back
    back = _trainer(tmp_path / "back", "cpu", amp=False)
    back.resume(path)
    assert back.global_step == 3
    for k, v in gpu.model.state_dict().items():
        assert torch.equal(v.cpu(), back.model.state_dict()[k]), k
    again = _trainer(tmp_path / "again", "cuda", amp=False)
    again.resume(back.save(tmp_path / "cpu.pt"))
    assert float(again.step(batch)["loss"]) == pytest.approx(
        float(back.step(batch)["loss"]), rel=2e-3
    )


def test_bf16_autocast_steps_are_finite_and_close_to_fp32(tmp_path):
    batch = _batch()
    fp32 = _trainer(tmp_path / "a", "cuda", amp=False)
    bf16 = _trainer(tmp_path / "b", "cuda", amp=True)
    for _ in range(3):
        a, b = fp32.step(batch), bf16.step(batch)
        assert all(torch.isfinite(v) for v in b.values())
        assert float(b["recon"]) == pytest.approx(float(a["recon"]), rel=0.05)
    for p in bf16.model.parameters():  # the weights stay float32 under autocast
        assert p.dtype == torch.float32


def test_fit_on_cuda_writes_a_checkpoint_that_forecasts_on_the_cpu(tmp_path):
    from hurricane_ode.models.inference import load_forecaster

    result = _trainer(tmp_path, "cuda", max_steps=4, checkpoint_every=2).fit()
    assert result.checkpoint is not None and result.checkpoint.exists()
    fc = load_forecaster(result.checkpoint, device="cpu")
    assert all(not p.is_cuda for p in fc.model.parameters())


def test_forecast_on_cuda_matches_the_cpu(demo_world):
    from hurricane_ode.forecasting import forecast

    kw = {"basin": "natl", "times": "2005-08-02T00/2005-08-03T00/6h"}
    cpu = forecast(None, demo_world.files, **kw, device="cpu")
    gpu = forecast(None, demo_world.files, **kw, device="cuda")
    for v in ("U850", "V850", "PSL"):
        a, b = cpu[v].values, gpu[v].values
        assert np.isfinite(b).all()
        spread = float(np.nanstd(a))
        assert float(np.nanmax(np.abs(a - b))) <= 1e-3 * spread, v


@pytest.mark.skipif(not torch.distributed.is_nccl_available(), reason="needs NCCL")
def test_one_nccl_rank_trains_like_a_plain_run(tmp_path):
    from test_distributed import SCRIPT

    script = tmp_path / "ddp_train.py"
    script.write_text(
        SCRIPT.format(here=str(TRAINING)).replace(
            "max_steps=3,", "max_steps=3, device='cuda', amp=False,"
        )
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
           str(script), str(tmp_path)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    assert r0["world"] == 1
    assert all(np.isfinite(v) for k, v in r0["metrics"].items() if isinstance(v, float))
