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
