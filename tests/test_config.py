from pathlib import Path

import pytest

from fakescope.config import RECIPES_DIR, list_recipes, load_config, resolve_recipe, save_config
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


def test_packaged_recipes_are_listed_and_load_by_name():
    assert {"resnet18", "sbi_efficientnet_b4"} <= set(list_recipes())
    for name in list_recipes():
        path = resolve_recipe(name)
        assert path.is_file() and path.parent == RECIPES_DIR and path.stem == name
        assert resolve_recipe(f"{name}.yaml") == path
        load_config(name)  # every packaged recipe is a valid config
    cfg = load_config("resnet18", ["train.epochs=2"])
    assert cfg.model.name == "resnet18" and cfg.train.epochs == 2
    assert load_config("sbi_efficientnet_b4").optim.sam is True


def test_an_existing_path_wins_over_a_packaged_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet18").write_text("train:\n  epochs: 7\n")
    assert resolve_recipe("resnet18") == Path("resnet18")
    assert load_config("resnet18").train.epochs == 7
    own = tmp_path / "mine.yaml"
    own.write_text("model:\n  name: xception\n")
    assert resolve_recipe(own) == own and load_config(str(own)).model.name == "xception"


def test_unknown_recipe_or_missing_path_lists_the_packaged_recipes(tmp_path):
    with pytest.raises(ConfigError, match="no config file or packaged recipe named 'nope'") as exc:
        load_config("nope")
    assert "resnet18" in str(exc.value) and "sbi_efficientnet_b4" in str(exc.value)
    missing = tmp_path / "configs" / "resnet18.yaml"  # the old in-repository location
    with pytest.raises(ConfigError, match="config file not found") as exc:
        load_config(missing)
    assert str(missing) in str(exc.value) and "resnet18" in exc.value.hint
    with pytest.raises(ConfigError, match="not a file"):
        resolve_recipe(tmp_path)


def test_cli_train_names_the_packaged_recipes_for_an_unknown_name(capsys):
    from fakescope.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["train", "no_such_recipe"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "no_such_recipe" in err and "resnet18" in err
