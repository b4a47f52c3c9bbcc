"""`fakescope detect` from the command line: streaming JSON lines, intake errors per file with
their reason, every readable format, skipped files listed, exit codes; and `fakescope ood-fit`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fakescope.cli.main import app, main
from fakescope.data.images import save_image
from fakescope.models.checkpoint import read_meta
from tests._dummies.media import png_header_only

runner = CliRunner()


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "in"
    save_image(d / "a.png", rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
    Image.fromarray(rng.integers(0, 255, (36, 48, 3), dtype=np.uint8)).save(d / "b.ppm")
    save_image(d / "one.png", np.zeros((1, 1, 3), np.uint8))
    (d / "huge.png").write_bytes(png_header_only(20000, 20000))
    (d / "notes.txt").write_text("not media")
    return d


def test_jsonl_streams_every_file_with_its_reason(toy_checkpoint, folder, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["detect", str(folder), "--model", str(toy_checkpoint / "best"), "--jsonl",
              "--faces", "none"])
    out = capsys.readouterr()
    lines = [json.loads(s) for s in out.out.strip().splitlines()]
    by = {r["path"].rsplit("/", 1)[-1]: r for r in lines}
    assert list(by) == ["a.png", "b.ppm", "huge.png", "one.png", "notes.txt"]
    assert by["b.ppm"]["input"]["format"] == "PPM" and 0 <= by["b.ppm"]["p_fake"] <= 1
    assert by["huge.png"]["reason"] == "too_large" and "20000 x 20000" in by["huge.png"]["error"]
    assert by["one.png"]["reason"] == "too_small" and "1 x 1 px" in by["one.png"]["error"]
    assert by["notes.txt"]["reason"] == "unsupported"
    assert exc.value.code == 1 and "3 of 5 file(s) could not be scored" in out.err
    assert all(isinstance(r.get("in_distribution", False), bool) for r in lines if "error" not in r)


def test_json_list_table_and_limits(toy_checkpoint, folder, capsys):
    ckpt = str(toy_checkpoint / "best")
    res = runner.invoke(app, ["detect", str(folder / "huge.png"), "--model", ckpt, "--json",
                              "--max-megapixels", "500", "--faces", "none"])
    [r] = json.loads(res.stdout)  # a header-only file: past the limit it fails to decode
    assert r["reason"] in ("unreadable", "truncated") and res.exit_code == 2
    res = runner.invoke(app, ["detect", str(folder / "a.png"), str(folder / "one.png"), "--model",
                              ckpt, "--faces", "none", "--min-size", "1"])
    assert res.exit_code == 0, res.output
    assert "2 file(s)" in res.stdout and "ood_score" in res.stdout and "verdict" in res.stdout


def test_a_photo_without_a_face_is_not_scored_whole(toy_checkpoint, folder, capsys):
    pytest.importorskip("dlib")
    with pytest.raises(SystemExit) as exc:
        main(["detect", str(folder / "a.png"), "--model", str(toy_checkpoint / "best"), "--json"])
    out = capsys.readouterr()
    [r] = json.loads(out.out)
    assert exc.value.code == 2 and r["verdict"] == "no_face" and r["reason"] == "no_face"


def test_ood_fit_adds_the_flag_to_an_older_checkpoint(toy_checkpoint, toy_manifest, tmp_path,
                                                      monkeypatch):
    from fakescope.cli.output import console

    monkeypatch.setattr(console, "width", 1000)  # rich wraps mid-word at a narrow width
    old = tmp_path / "old"
    shutil.copytree(toy_checkpoint / "best", old)
    (old / "ood.safetensors").unlink()
    meta = read_meta(old)
    for k in ("ood", "training_data"):
        meta.pop(k)
    meta["preprocessing"].pop("faces")
    (old / "meta.json").write_text(json.dumps(meta))
    res = runner.invoke(app, ["ood-fit", str(old), "--manifest", str(toy_manifest)])
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())  # rich wraps long lines at the console's width
    assert "OOD threshold" in said and "preprocessing.faces, training_data" in said
    meta = read_meta(old)
    assert meta["ood"]["n_val"] == 24 and meta["ood"]["threshold"] > 0
    assert meta["preprocessing"]["faces"]["crop"] == "whole_image"
    assert meta["training_data"]["rows"] == {"train": 72, "val": 24}
    res = runner.invoke(app, ["ood-fit", str(old), "--manifest", str(toy_manifest),
                              "--val-split", "nope"])
    assert res.exit_code != 0 and "no rows in split 'nope'" in str(res.exception or res.output)
