"""The model contract: one base validates every registered model; registry and from_config."""

from __future__ import annotations

import pytest
import torch

from hurricane_ode.config import ModelConfig, SolverConfig
from hurricane_ode.errors import ModelInputError, RegistryError
from hurricane_ode.models.base import (
    ForecastModel,
    ModelOutput,
    ModelProtocol,
    available_models,
    build_model,
    check_inputs,
    model_class,
    register_model,
    stack_steps,
)


def tiny(name: str) -> ModelConfig:
    return ModelConfig(
        name=name, in_channels=2, image_size=(16, 16), hidden_channels=4, base_channels=4,
        n_downsample=1, n_inputs=3, adversarial=False, solver=SolverConfig(method="euler", step_size=0.5),
    )  # fmt: skip


def good_batch() -> tuple[torch.Tensor, ...]:
    x = torch.randn(2, 3, 2, 16, 16)
    t = torch.tensor([[0.0, 6.0, 12.0], [0.0, 3.0, 9.0]])
    q = t[:, -1:] + torch.tensor([3.0, 6.0])
    return x, t, q, torch.ones(2, 3, dtype=torch.bool)


@pytest.mark.parametrize("name", available_models())
def test_every_registered_model_goes_through_the_base_validation(name):
    model = build_model(tiny(name)).eval()
    assert isinstance(model, ForecastModel) and isinstance(model, ModelProtocol)
    assert type(model).from_config(tiny(name)).__class__ is type(model)
    x, t, q, m = good_batch()
    with torch.no_grad():
        out = model(x, t, q, m)
    assert isinstance(out, ModelOutput) and out.frames.shape == (2, 2, 2, 16, 16)
    bad = [
        ((x[:, :, :1], t, q, m), "channels"),
        ((x[0], t, q, m), r"\[B, T, C, H, W\]"),
        ((x, t[:, :2], q, m), "input_times"),
        ((x, t, q[0], m), "query_times"),
        ((x, t, q, m[:, :2]), "input_mask"),
        ((x, t, q, torch.zeros_like(m)), "at least one observed"),
        ((x, t, q * float("nan"), m), "finite"),
        ((x, t.flip(1), q, m), "strictly increasing"),
    ]
    for args, match in bad:
        with pytest.raises(ModelInputError, match=match):
            model(*args)
    with pytest.raises(ModelInputError, match="mode must be one of"):
        model(x, t, q, m, mode="sideways")


def test_value_checks_follow_the_validate_flag():
    model = build_model(tiny("persistence"))
    x, t, q, m = good_batch()
    model.validate = False  # what runs on an accelerator: no host sync, no value checks
    model(x, t, q.flip(1), m)
    model.validate = None  # auto: CPU times are checked
    with pytest.raises(ModelInputError, match="sorted"):
        model(x, t, q.flip(1), m)
    # shape checks never depend on the flag
    model.validate = False
    with pytest.raises(ModelInputError, match="channels"):
        model(x[:, :, :1], t, q, m)
    assert check_inputs("m", tiny("vid_ode"), x, t, q, m, values=False) is None
    assert check_inputs("m", tiny("vid_ode"), x, t, q, m) == "extrapolation"


def test_registry_names_refuses_duplicates_and_unknowns():
    assert {"vid_ode", "persistence", "advection", "vid_rnn"} <= set(available_models())
    assert model_class("vid_ode").__name__ == "VidODE"
    with pytest.raises(RegistryError, match="already registered"):
        register_model("vid_ode")(lambda cfg: None)
    with pytest.raises(RegistryError, match="unknown model 'nope'"):
        build_model(ModelConfig(name="nope"))
    with pytest.raises(ValueError, match="available: .*vid_ode"):  # still a ValueError
        build_model(ModelConfig(name="nope"))


def test_stack_steps_keeps_absent_parts_absent():
    a = torch.zeros(2, 1, 4, 4)
    out = stack_steps([(a, a, None, None), (a + 1, a, None, None)])
    assert out.frames.shape == (2, 2, 1, 4, 4) and out.flow is None and out.mask is None
    assert torch.equal(out.frames[:, 1], a + 1)


def test_vid_ode_keeps_the_shipped_checkpoint_keys():
    from importlib.resources import files

    state = torch.load(files("hurricane_ode") / "resources" / "demo_model.pt", weights_only=True)
    model = build_model(ModelConfig(**{k: v for k, v in state["config"]["model"].items() if k != "solver"}))
    model.load_state_dict(state["model"])  # strict: same names, same shapes


@pytest.mark.parametrize("name", ["vid_ode", "convgru_delta_t", "convgru_decay", "latent_ode", "ode2vae", "vid_rnn"])
def test_learned_models_take_their_options_as_keywords(name):
    from hurricane_ode.config import ModelConfig
    from hurricane_ode.errors import ConfigError
    from hurricane_ode.models.base import MODEL_REGISTRY

    cls = MODEL_REGISTRY.get(name)
    opts = {"image_size": (16, 16), "hidden_channels": 8, "base_channels": 8, "n_downsample": 1}
    torch.manual_seed(0)
    by_keywords = cls(**opts)
    torch.manual_seed(0)
    by_config = cls(ModelConfig(name=name, **opts))
    assert by_keywords.config.hidden_channels == 8 and by_keywords.config.image_size == (16, 16)
    a, b = by_keywords.state_dict(), by_config.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ConfigError, match="unknown option.*hiden_channels"):
        cls(hiden_channels=8)
