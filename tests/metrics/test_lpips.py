"""LPIPS plumbing with generated TEST WEIGHTS (not ImageNet), and the real-weights file rules.

The real AlexNet backbone is never shipped; with generated weights these tests
check the computation's properties, not published LPIPS values.
"""

import runpy
from pathlib import Path

import pytest
import torch

from hurricane_ode.metrics import lpips as lp
from hurricane_ode.metrics.lpips import (
    BACKBONE_FILENAME,
    LPIPS,
    AlexNetFeatures,
    default_backbone_path,
    lpips_linear_weights_path,
    make_test_backbone_state_dict,
)

TORCHVISION_ALEXNET_FEATURE_KEYS = {
    f"features.{i}.{p}" for i in (0, 3, 6, 8, 10) for p in ("weight", "bias")
}


def _has_lpips_wheel() -> bool:
    try:
        lpips_linear_weights_path()
    except FileNotFoundError:
        return False
    return True


needs_wheel = pytest.mark.skipif(
    not _has_lpips_wheel(), reason="lpips wheel not installed (pip install --no-deps lpips==0.1.4)"
)


def _test_linear():
    g = torch.Generator().manual_seed(5)
    return {
        f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=g)
        for i, c in enumerate((64, 192, 384, 256, 256))
    }


@pytest.fixture(scope="module")
def metric():
    # TEST WEIGHTS: seeded random backbone and linear layers
    return LPIPS(
        backbone_state_dict=make_test_backbone_state_dict(0),
        linear_state_dict=_test_linear(),
        backbone_label="TEST WEIGHTS (seeded random)",
        value_range=(-3.0, 3.0),
    )


def _frames(seed, shape=(2, 2, 3, 32, 32)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def test_state_dict_layout_matches_torchvision_alexnet_features():
    assert set(AlexNetFeatures().state_dict()) == TORCHVISION_ALEXNET_FEATURE_KEYS
    shapes = {k: tuple(v.shape) for k, v in AlexNetFeatures().state_dict().items()}
    assert shapes["features.0.weight"] == (64, 3, 11, 11)
    assert shapes["features.10.weight"] == (256, 256, 3, 3)


def test_zero_symmetric_positive(metric):
    x, y = _frames(0), _frames(1)
    assert not metric.is_real
    d_xx = metric(x, x)
    assert d_xx.shape == (2, 2)
    assert torch.all(d_xx == 0)
    d_xy, d_yx = metric(x, y), metric(y, x)
    assert torch.all(d_xy > 0)
    assert torch.allclose(d_xy, d_yx)
    # a small perturbation is closer than an unrelated field
    assert torch.all(metric(x, x + 0.05 * y) < d_xy)


def test_channel_modes(metric):
    x, y = _frames(0, (1, 2, 2, 32, 32)), _frames(1, (1, 2, 2, 32, 32))
    two = metric(x, y)  # C = 2 -> per-channel grey images, averaged
    per = [metric(x[:, :, i : i + 1], y[:, :, i : i + 1]) for i in range(2)]
    assert torch.allclose(two, (per[0] + per[1]) / 2, rtol=1e-5)
    with pytest.raises(ValueError, match="at least 31x31"):
        metric(x[..., :16, :16], y[..., :16, :16])


def test_value_range_mapping(metric):
    # z-scores clipped at +-3 sigma, then /3
    z = torch.tensor([-10.0, -3.0, 0.0, 1.5, 3.0, 7.0])
    assert metric.to_network_input(z).tolist() == pytest.approx([-1, -1, 0, 0.5, 1, 1])


def test_real_weights_missing_names_file_and_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HURRICANE_ODE_CACHE", str(tmp_path))
    monkeypatch.delenv("HURRICANE_ODE_LPIPS_BACKBONE", raising=False)
    expected = tmp_path / "lpips" / BACKBONE_FILENAME
    assert default_backbone_path() == expected
    with pytest.raises(FileNotFoundError) as err:
        LPIPS(linear_state_dict=_test_linear())
    assert str(expected) in str(err.value)
    assert "scripts/fetch_lpips_weights.py" in str(err.value)
    monkeypatch.setenv("HURRICANE_ODE_LPIPS_BACKBONE", str(tmp_path / "mine.pth"))
    with pytest.raises(FileNotFoundError, match="mine.pth"):
        LPIPS(linear_state_dict=_test_linear())


def test_backbone_file_loads_from_torchvision_layout(tmp_path, monkeypatch):
    # a full torchvision-style AlexNet state dict (features + classifier), TEST WEIGHTS
    sd = make_test_backbone_state_dict(1)
    sd["classifier.1.weight"] = torch.zeros(8, 8)  # extra non-feature keys are ignored
    path = tmp_path / BACKBONE_FILENAME
    torch.save(sd, path)
    monkeypatch.setenv("HURRICANE_ODE_LPIPS_BACKBONE", str(path))
    m = LPIPS(linear_state_dict=_test_linear())
    assert m.backbone_source == str(path)
    assert torch.equal(m.net.features[0].weight, sd["features.0.weight"])
    bad = {k: v for k, v in sd.items() if k != "features.8.bias"}
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="features.8.bias"):
        LPIPS(backbone_path=tmp_path / "bad.pth", linear_state_dict=_test_linear())


def test_refuses_untrained_without_explicit_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("HURRICANE_ODE_CACHE", str(tmp_path))
    monkeypatch.delenv("HURRICANE_ODE_LPIPS_BACKBONE", raising=False)
    with pytest.raises(FileNotFoundError):
        LPIPS(linear_state_dict=_test_linear())
    m = LPIPS(linear_state_dict=_test_linear(), allow_untrained_backbone_for_testing=True)
    assert not m.is_real and "UNTRAINED" in m.backbone_source


@needs_wheel
def test_published_linear_layers_load_from_wheel():
    path = lpips_linear_weights_path()
    assert path.parts[-3:] == ("weights", "v0.1", "alex.pth")
    sd = torch.load(path, map_location="cpu", weights_only=True)
    m = LPIPS(backbone_state_dict=make_test_backbone_state_dict(0), backbone_label="TEST WEIGHTS")
    assert m.linear_source == str(path)
    for i in range(5):
        w = sd[f"lin{i}.model.1.weight"]
        assert torch.equal(m.lins[i].weight, w)
        assert torch.all(w >= 0)  # published LPIPS weights are non-negative
    x, y = _frames(2), _frames(3)
    assert torch.all(m(x, x) == 0) and torch.all(m(x, y) > 0)


def test_fetch_script_default_matches_package(tmp_path, monkeypatch):
    script = Path(__file__).resolve().parents[2] / "scripts" / "fetch_lpips_weights.py"
    ns = runpy.run_path(str(script))
    monkeypatch.setenv("HURRICANE_ODE_CACHE", str(tmp_path))
    monkeypatch.delenv("HURRICANE_ODE_LPIPS_BACKBONE", raising=False)
    assert ns["default_dest"]() == default_backbone_path()
    assert ns["URL"] == lp.BACKBONE_URL
    assert ns["SHA256_PREFIX"] in BACKBONE_FILENAME


@needs_wheel
def test_matches_reference_lpips_code_with_same_backbone(monkeypatch):
    """Cross-check against the lpips package's own forward pass (TEST WEIGHTS backbone).

    The reference code gets its AlexNet from torchvision, which is not importable here, so
    a stand-in ``torchvision.models.alexnet`` hands it our layer stack with the same test
    weights; the linear layers come from the wheel in both cases.
    """
    import sys
    import types

    backbone = make_test_backbone_state_dict(7)

    def alexnet(pretrained=True, **_):
        net = AlexNetFeatures()
        net.load_state_dict(backbone)
        return types.SimpleNamespace(features=net.features)

    tv = types.ModuleType("torchvision")
    tv.models = types.ModuleType("torchvision.models")
    tv.models.alexnet = alexnet
    monkeypatch.setitem(sys.modules, "torchvision", tv)
    monkeypatch.setitem(sys.modules, "torchvision.models", tv.models)
    before = set(sys.modules)
    try:
        import lpips as reference

        ref = reference.LPIPS(net="alex", version="0.1", verbose=False).eval()
        g = torch.Generator().manual_seed(0)
        x = torch.rand(3, 3, 40, 36, generator=g) * 2 - 1
        y = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(-1, 1)
        with torch.no_grad():
            expected = ref(x, y).flatten()
        mine = LPIPS(backbone_state_dict=backbone, backbone_label="TEST WEIGHTS")
        assert torch.allclose(mine.distance(x, y), expected, rtol=1e-5, atol=1e-7)
    finally:
        for name in set(sys.modules) - before:
            if name == "lpips" or name.startswith("lpips."):
                del sys.modules[name]
