import pytest
import yaml

from hurricane_ode.config import Config, config_from_dict, config_to_dict, load_config


def test_defaults_follow_the_paper():
    cfg = Config()
    assert cfg.train.batch_size == 8
    assert cfg.train.lr == pytest.approx(1e-3)
    assert cfg.train.lr_decay == pytest.approx(0.99)
    assert (cfg.loss.lambda_diff, cfg.loss.lambda_img, cfg.loss.lambda_seq) == (1.0, 0.003, 0.003)
    assert cfg.data.sampling.n_inputs == 5 and cfg.data.sampling.max_gap_h == 48.0


def test_yaml_round_trip(tmp_path):
    cfg = config_from_dict({"model": {"image_size": [32, 48], "solver": {"method": "rk4"}}})
    assert cfg.model.image_size == (32, 48)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config_to_dict(cfg)))
    again = load_config(path)
    assert again == cfg


def test_unknown_key_names_section_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  batchsize: 4\n")
    with pytest.raises(KeyError, match=r"batchsize.*train"):
        load_config(path)
    with pytest.raises(KeyError, match="bad.yaml"):
        load_config(path)


def test_wrong_type_is_refused():
    with pytest.raises(TypeError, match="train.epochs"):
        config_from_dict({"train": {"epochs": "many"}})


@pytest.mark.parametrize(
    "values, key",
    [
        ({"train": {"lr": 0.0}}, "train.lr"),
        ({"train": {"lr": -1e-3}}, "train.lr"),
        ({"train": {"batch_size": 0}}, "train.batch_size"),
        ({"train": {"lr_min_factor": 1.5}}, "train.lr_min_factor"),
        ({"model": {"hidden_channels": 0}}, "model.hidden_channels"),
        ({"model": {"solver": {"step_size": -0.1}}}, "model.solver.step_size"),
        ({"data": {"sampling": {"input_drop_prob": 1.2}}}, "data.sampling.input_drop_prob"),
        ({"data": {"sampling": {"sampling_rate": 0.0}}}, "data.sampling.sampling_rate"),
        ({"data": {"train_fraction": 1.5}}, "data.train_fraction"),
        ({"loss": {"lambda_img": -1.0}}, "loss.lambda_img"),
        ({"loss": {"lambda_storm_mask": 0.1}}, "data.storm_sigma_km"),  # the term needs storm maps
        ({"loss": {"lambda_storm": 0.1}}, "data.storm_sigma_km"),
        ({"loss": {"lambda_storm_flow": 0.1}}, "data.storm_sigma_km"),
        ({"loss": {"lambda_storm_flow": 0.1}, "data": {"storm_sigma_km": 200.0}}, "model.warp_source"),
    ],
)
def test_out_of_range_values_name_the_key(values, key):
    from hurricane_ode.errors import ConfigError

    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_from_dict(values)


def test_runtime_keys_are_declared_once_and_defaults_fill_old_configs():
    from hurricane_ode.config import RUNTIME_KEYS, runtime_free_differences

    assert "train.max_steps" in RUNTIME_KEYS and "train.lr" not in RUNTIME_KEYS
    new = config_to_dict(Config())
    old = config_to_dict(Config())
    del old["train"]["lr_min_factor"]  # a checkpoint written before the key existed
    old["train"]["max_steps"] = 7
    assert runtime_free_differences(old, new) == []
    old["train"]["lr"] = 0.5
    assert runtime_free_differences(old, new) == ["train.lr"]
