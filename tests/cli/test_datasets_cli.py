"""`fakescope data index / faces / layouts` end to end on small fixture trees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fakescope.cli.main import app, main
from fakescope.data.images import save_image
from fakescope.data.manifest import read_manifest

PHOTO = Path(__import__("matplotlib").get_data_path()) / "sample_data" / "grace_hopper.jpg"


def _folder(tmp_path):
    root = tmp_path / "mine"
    save_image(root / "real/a.png", np.zeros((16, 16, 3), np.uint8))
    save_image(root / "fake/sdxl/b.png", np.zeros((16, 16, 3), np.uint8))
    return root


def test_index_writes_manifest_and_table(tmp_path):
    root = _folder(tmp_path)
    out = tmp_path / "m" / "mine.csv"
    res = CliRunner().invoke(app, ["data", "index", "folder", str(root), "--out", str(out),
                                   "-o", "name=demo", "--relative"])
    assert res.exit_code == 0, res.output
    assert "2 rows" in res.output and "sdxl" in res.output
    df = read_manifest(out)
    assert df["sample_id"].tolist() == ["demo/real/a.png", "demo/fake/sdxl/b.png"]
    assert not Path(df["path"].iloc[0]).is_absolute()
    assert (Path(df.attrs["root"]) / df["path"].iloc[0]).is_file()


def test_index_errors_exit_2(tmp_path, capsys):
    for args in (["data", "index", "ffpp", str(tmp_path), "--out", str(tmp_path / "x.csv")],
                 ["data", "index", "nolayout", str(tmp_path), "--out", str(tmp_path / "x.csv")],
                 ["data", "index", "folder", str(_folder(tmp_path)), "--out",
                  str(tmp_path / "x.csv"), "-o", "bogus=1"]):
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "original_sequences" in err and "unknown dataset layout" in err and "bogus" in err


def test_layouts_lists_every_layout():
    res = CliRunner().invoke(app, ["data", "layouts"])
    assert res.exit_code == 0
    for name in ("ffpp", "celebdf", "dfdc", "df40", "folder", "deepfakebench"):
        assert name in res.output


def test_faces_summary_counts_skips(tmp_path):
    # unreadable items never reach the detector, so this runs without loading dlib models
    (tmp_path / "zero.mp4").write_bytes(b"")
    pd.DataFrame({"sample_id": ["z", "gone"], "path": ["zero.mp4", "gone.png"],
                  "label": [1, 0]}).to_csv(tmp_path / "m.csv", index=False)
    args = ["data", "faces", str(tmp_path / "m.csv"), "--out", str(tmp_path / "out"),
            "--no-progress"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "zero_length" in res.output and "missing_file" in res.output
    assert pd.read_csv(tmp_path / "out" / "skipped.csv")["reason"].tolist() == [
        "zero_length", "missing_file"]
    again = CliRunner().invoke(app, args)
    assert "finished before" in again.output
    with pytest.raises(SystemExit) as exc:
        main(args[:-1] + ["--size", "128"])  # other settings into the same folder
    assert exc.value.code == 2


@pytest.mark.slow
@pytest.mark.faces
@pytest.mark.skipif(not PHOTO.is_file(), reason="matplotlib sample photo not installed")
def test_faces_on_a_real_photo(tmp_path):
    pytest.importorskip("dlib")
    pd.DataFrame({"sample_id": ["gh"], "path": [str(PHOTO)], "label": [0]}).to_csv(
        tmp_path / "m.csv", index=False)
    res = CliRunner().invoke(app, ["data", "faces", str(tmp_path / "m.csv"), "--out",
                                   str(tmp_path / "out"), "--size", "64", "--no-progress"])
    assert res.exit_code == 0, res.output
    faces = read_manifest(tmp_path / "out" / "faces.csv")
    assert len(faces) == 1 and faces["landmarks_path"].iloc[0].endswith(".npy")
