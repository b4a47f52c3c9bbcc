"""Backend options of the batch commands: bad values are one-line errors before any work."""

from __future__ import annotations

import sys

import pytest

from fakescope.backends.ray_tasks import check_address
from fakescope.cli.main import main
from fakescope.errors import ConfigError


class _Res:
    def __init__(self, code, err):
        self.exit_code, self.output = code, err


def _faces(tmp_path, capsys, *extra) -> _Res:
    """``fakescope data faces`` as the shell runs it: exit code and stderr."""
    (tmp_path / "m.csv").write_text("sample_id,path,label\na,a.png,0\n")
    with pytest.raises(SystemExit) as ex:
        main(["data", "faces", str(tmp_path / "m.csv"), "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    return _Res(ex.value.code, err)


def test_ray_backend_without_ray_installed_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as when not installed
    res = _faces(tmp_path, capsys, "--backend", "ray")
    assert res.exit_code == 2
    assert "needs the ray package" in res.output and "fakescope[ray]" in res.output
    assert not (tmp_path / "o").exists()  # refused before any work


@pytest.mark.parametrize(("extra", "message"), [
    (["--backend", "dask"], "unknown backend 'dask'"),
    (["--ray-address", "10.0.0.1:6379"], "add --backend ray"),
    (["--workers", "0"], "workers=0 with the local backend"),
])
def test_bad_backend_options(tmp_path, capsys, extra, message):
    res = _faces(tmp_path, capsys, *extra)
    assert res.exit_code == 2 and message in res.output


def test_an_unreachable_ray_address_is_named():
    with pytest.raises(ConfigError, match="cannot reach the Ray cluster at 127.0.0.1:1"):
        check_address("127.0.0.1:1", timeout=2)
    with pytest.raises(ConfigError, match="is not host:port"):
        check_address("headnode")


def test_unreachable_address_from_the_command_line(tmp_path, capsys):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    res = _faces(tmp_path, capsys, "--backend", "ray", "--ray-address", "127.0.0.1:1")
    assert res.exit_code == 2 and "cannot reach the Ray cluster" in res.output
