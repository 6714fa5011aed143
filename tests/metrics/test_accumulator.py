"""MetricAccumulator: per-lead-time means, masking, and exact merging of shards."""

import math

import pytest
import torch

from hurricane_ode.metrics import LPIPS, MetricAccumulator, mse_per_frame, ssim_per_frame
from hurricane_ode.metrics.lpips import make_test_backbone_state_dict


def _pair(seed, b=4, k=3, c=3, hw=16):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(b, k, c, hw, hw, generator=g)
    # error grows with lead time, like a forecast
    lead = torch.arange(1, k + 1, dtype=torch.float32).view(1, k, 1, 1, 1)
    p = t + 0.1 * lead * torch.randn(b, k, c, hw, hw, generator=g)
    return p, t


def test_compute_matches_direct_per_lead_means():
    p, t = _pair(0)
    acc = MetricAccumulator(data_range=6.0, channel_names=["U850", "V850", "PSL"],
                            channel_std=[5.0, 5.0, 300.0], lead_times=[3.0, 6.0, 9.0])
    acc.update(p, t)
    out = acc.compute()
    mse = mse_per_frame(p, t).double()  # [B, K, C]
    assert out["count"] == [4, 4, 4]
    assert out["lead_time"] == [3.0, 6.0, 9.0]
    assert out["mse"] == pytest.approx(mse.mean(dim=(0, 2)).tolist())
    assert out["mse_mean"] == pytest.approx(mse.mean().item())
    assert out["mse_per_channel"]["PSL"] == pytest.approx(mse[..., 2].mean(0).tolist())
    assert out["mse_phys"]["PSL"] == pytest.approx((300.0**2 * mse[..., 2].mean(0)).tolist())
    assert out["mse_phys_mean"]["U850"] == pytest.approx(25.0 * mse[..., 0].mean().item())
    psnr = 10 * torch.log10(36.0 / mse.mean(-1))
    assert out["psnr"] == pytest.approx(psnr.mean(0).tolist())
    ssim = ssim_per_frame(p, t, 6.0).double()
    assert out["ssim"] == pytest.approx(ssim.mean(dim=(0, 2)).tolist())
    # errors grow with lead time
    assert out["mse"][0] < out["mse"][1] < out["mse"][2]
    assert out["ssim"][0] > out["ssim"][2]


def test_merge_of_halves_equals_whole():
    p, t = _pair(1, b=6)
    lp = LPIPS(backbone_state_dict=make_test_backbone_state_dict(0),
               linear_state_dict={f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1)
                                  for i, c in enumerate((64, 192, 384, 256, 256))},
               backbone_label="TEST WEIGHTS", value_range=(-3, 3))
    p, t = torch.nn.functional.interpolate(p.flatten(0, 1), size=32).unflatten(0, (6, 3)), \
        torch.nn.functional.interpolate(t.flatten(0, 1), size=32).unflatten(0, (6, 3))
    whole = MetricAccumulator(6.0, lpips=lp, channel_std=[1.0, 2.0, 3.0])
    whole.update(p, t)
    a = MetricAccumulator(6.0, lpips=lp, channel_std=[1.0, 2.0, 3.0])
    b = MetricAccumulator(6.0, lpips=lp, channel_std=[1.0, 2.0, 3.0])
    a.update(p[:2], t[:2])
    b.update(p[2:5], t[2:5])
    b.update(p[5:], t[5:])
    merged = a.merge(b).compute()
    ref = whole.compute()
    assert merged.keys() == ref.keys()
    for key in ("mse", "psnr", "ssim"):
        assert merged[key] == pytest.approx(ref[key], rel=1e-12)
    # LPIPS runs a float32 conv net whose sums depend on the batch split (and thread count)
    assert merged["lpips"] == pytest.approx(ref["lpips"], rel=1e-6)
    assert merged["count"] == ref["count"] == [6, 6, 6]
    # the DDP path: summed state dicts load back to the same result
    a2, b2 = MetricAccumulator(6.0), MetricAccumulator(6.0)
    a2.update(p[:3], t[:3])
    b2.update(p[3:], t[3:])
    summed = {k: a2.state_dict()[k] + b2.state_dict()[k] for k in a2.state_dict()}
    c2 = MetricAccumulator(6.0)
    c2.load_state_dict(summed)
    assert c2.compute()["mse"] == pytest.approx(ref["mse"], rel=1e-12)


def test_valid_mask_excludes_frames():
    p, t = _pair(2, b=2)
    p[1, 2] += 100.0  # a garbage frame that is masked out
    valid = torch.tensor([[True, True, True], [True, True, False]])
    acc = MetricAccumulator(1.0)
    acc.update(p, t, valid=valid)
    out = acc.compute()
    assert out["count"] == [2, 2, 1]
    assert out["mse"][2] == pytest.approx(mse_per_frame(p[:1, 2], t[:1, 2]).mean().item())


def test_perfect_forecast_psnr_is_inf_and_errors():
    p, _ = _pair(3)
    acc = MetricAccumulator(1.0)
    with pytest.raises(RuntimeError, match="before any"):
        acc.compute()
    acc.update(p, p)
    out = acc.compute()
    assert out["mse_mean"] == 0.0 and math.isinf(out["psnr_mean"])
    with pytest.raises(ValueError, match="lead times"):
        acc.update(p[:, :2], p[:, :2])
    with pytest.raises(ValueError, match="cannot merge"):
        other = MetricAccumulator(1.0)
        other.update(p[:, :2], p[:, :2])
        acc.merge(other)
    with pytest.raises(ValueError, match="channel_std has 2"):
        MetricAccumulator(1.0, channel_std=[1.0, 2.0]).update(p, p)
