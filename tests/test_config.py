import pytest

from fakescope.config import load_config, save_config
from fakescope.errors import ConfigError


def test_defaults_overrides_roundtrip(tmp_path):
    cfg = load_config(None, ["optim.lr=3e-4", "model.heads={group: 8}", "train.epochs=2"])
    assert cfg.optim.lr == pytest.approx(3e-4)
    assert cfg.model.heads == {"group": 8}
    back = load_config(save_config(cfg, tmp_path / "c.yaml"))
    assert back == cfg


@pytest.mark.parametrize("text,msg", [
    ("optim:\n  lrr: 1\n", "unknown key 'optim.lrr'"),
    ("train:\n  epochs: many\n", "'train.epochs' must be int"),
    ("model: 3\n", "'model' must be a mapping"),
    ("train: [\n", "not valid YAML"),
])
def test_errors_name_file_and_key(tmp_path, text, msg):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(f)
    assert msg in str(exc.value) and str(f) in str(exc.value)


def test_missing_config(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "none.yaml")
