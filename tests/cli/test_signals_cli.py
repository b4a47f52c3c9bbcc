"""`fakescope signals` and `fakescope data signals` end to end on small synthetic clips."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fakescope.cli.main import app, main
from fakescope.data.faces import Face
from fakescope.data.manifest import write_manifest
from fakescope.data.synthfaces import make_identities, render_face, sample_view
from fakescope.data.video_stream import write_clip
from fakescope.signals import pipeline  # noqa: F401 - imported before fake_detector patches faces


def pulse_clip(path, *, hr=72.0, seconds=5.0, fps=20.0, size=96, seed=0, scale=1):
    """A still SynthFaces face whose skin pulses at ``hr`` bpm (1 %, green strongest), camera
    noise, H.264 CRF 23; returns its landmarks (68, 2)."""
    rng = np.random.default_rng(seed)
    r = render_face(make_identities(1, seed=seed)[0], sample_view(rng, "studio"), size=size)
    img = r.image.astype(np.float32) * 255
    skin = (r.face_mask > 0).astype(np.float32)[..., None] * np.float32([0.5, 1.0, 0.3])
    frames = []
    for k in range(int(seconds * fps)):
        f = img * (1 + 0.01 * np.sin(2 * np.pi * hr / 60 * k / fps) * skin)
        f = np.clip(f + rng.normal(0, 1.0, f.shape), 0, 255).astype(np.uint8)
        frames.append(cv2.resize(f, None, fx=scale, fy=scale) if scale != 1 else f)
    write_clip(path, frames, fps)
    return r.landmarks * scale


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("sig")
    lm = pulse_clip(root / "good.mp4")
    pulse_clip(root / "short.mp4", seconds=2.0)
    (root / "junk.mp4").write_bytes(b"\x00junk" * 300)
    return root, lm


@pytest.fixture
def fake_detector(monkeypatch, clips):
    """The CLI's detector returns the still face's landmarks on every frame."""
    lm = clips[1].astype(np.float32)

    class Still:
        def detect(self, image):
            return [Face((*lm.min(0), *lm.max(0)), 1.0, lm)]

    monkeypatch.setattr("fakescope.data.faces.create_face_detector", lambda *a, **k: Still())


def test_json_reports_each_clip_and_bad_ones_fail_alone(clips, fake_detector, capsys):
    root, _ = clips
    paths = [str(root / n) for n in ("good.mp4", "short.mp4", "junk.mp4", "gone.mp4")]
    with pytest.raises(SystemExit) as exc:
        main(["signals", *paths, "--json", "--method", "chrom"])
    assert exc.value.code == 1
    out, err = capsys.readouterr()
    res = json.loads(out)
    assert [r["path"] for r in res] == paths
    good = res[0]
    assert set(good) == {"path", "hr_bpm", "snr_db", "method"} and good["method"] == "chrom"
    assert good["hr_bpm"] == pytest.approx(72, abs=3)
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 3  # one line per bad clip, naming it, no traceback
    for name, reason in (("short.mp4", "too short"), ("junk.mp4", "unreadable"),
                         ("gone.mp4", "not found")):
        assert any(name in ln and reason in ln for ln in lines), (name, err)
    assert "Traceback" not in err and "3 of 4 clip(s) failed" in err


def test_table_traces_and_plot(clips, fake_detector, tmp_path):
    root, _ = clips
    res = CliRunner().invoke(app, ["signals", str(root / "good.mp4"), "--traces",
                                   str(tmp_path / "tr"), "--plot", str(tmp_path / "pl"),
                                   "--detect-every", "5"])
    assert res.exit_code == 0, res.output
    assert "heart rate (pos), 1 clip(s)" in res.output and "error" not in res.output.lower()
    with np.load(tmp_path / "tr" / "good.npz") as z:
        assert z["region_traces"].shape == (100, 5, 3)
        assert list(z["regions"]) == ["forehead", "left_cheek", "right_cheek", "nose", "chin"]
        assert "pulse_pos" in z.files
    png = (tmp_path / "pl" / "good.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_usage_errors_exit_2(clips, capsys):
    root, _ = clips
    for args in (["signals", str(root / "good.mp4"), "--method", "ica"],
                 ["signals", str(root / "good.mp4"), "--detect-every", "0"],
                 ["signals", str(root / "good.mp4"), "--bogus"],
                 ["signals"]):
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2, args
    err = capsys.readouterr().err
    assert "unknown rPPG method 'ica'" in err and "detect-every" in err


def test_data_signals_batch(clips, tmp_path):
    root, lm = clips
    np.save(tmp_path / "lm.npy", np.repeat(lm[None], 100, axis=0))
    rows = [{"sample_id": "good", "path": str(root / "good.mp4"), "label": 0,
             "landmarks_path": "lm.npy"},
            {"sample_id": "junk", "path": str(root / "junk.mp4"), "label": 1,
             "landmarks_path": "lm.npy"}]
    mpath = write_manifest(pd.DataFrame(rows), tmp_path / "m.csv")
    args = ["data", "signals", str(mpath), "--out", str(tmp_path / "out"), "--landmarks",
            "manifest", "--flow", "none", "--no-progress"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "finished now" in res.output and "junk.mp4" in res.output
    table = pd.read_csv(tmp_path / "out" / "signals.csv")
    assert table["sample_id"].tolist() == ["good"]
    assert table["hr_pos_bpm"].iloc[0] == pytest.approx(72, abs=3)
    assert pd.read_csv(tmp_path / "out" / "errors.csv")["sample_id"].tolist() == ["junk"]
    with pytest.raises(SystemExit) as exc:  # other settings into the same folder
        main(args[:-3] + ["farneback", "--no-progress"])
    assert exc.value.code == 2


@pytest.mark.faces
def test_real_dlib_on_a_synthfaces_clip(tmp_path):
    pytest.importorskip("dlib")
    path = tmp_path / "face.mp4"
    pulse_clip(path, seed=3, size=128, scale=2, seconds=4.5, hr=84)
    res = CliRunner().invoke(app, ["signals", str(path), "--json", "--method", "green"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)[0]["hr_bpm"] == pytest.approx(84, abs=4)
