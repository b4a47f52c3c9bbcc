import pytest
from typer.testing import CliRunner

from fakescope.cli.main import app

pytest.importorskip("fastapi")


def test_serve_help_and_a_missing_checkpoint_is_one_line():
    r = CliRunner().invoke(app, ["serve", "--help"])
    assert r.exit_code == 0 and "--max-batch-size" in r.output and "--api-key" in r.output
    from fakescope.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(["serve", "--model", "no/such/checkpoint"])
    assert e.value.code == 2


def test_serve_settings_are_checked(toy_checkpoint, tmp_path):
    from fakescope.errors import ConfigError
    from fakescope.serve.settings import ServeSettings

    with pytest.raises(ConfigError, match="max-batch-size"):
        ServeSettings(models=["x"], data_dir=tmp_path, max_batch_size=0)
    with pytest.raises(ConfigError, match="--faces"):
        ServeSettings(models=["x"], data_dir=tmp_path, faces="eyes")
