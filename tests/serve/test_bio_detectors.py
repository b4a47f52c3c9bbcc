"""A biological detector (ppg_map) beside a blind one in the service: it answers video jobs
with a timeline of its signal-map windows and its first map, and images say it does not apply
instead of abstaining (an abstention would make every image's verdict 'uncertain')."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from fakescope.cli.main import app
from tests._dummies.bio_video import tiny_signals, tiny_video, upscaled_clip
from tests.serve.conftest import png_bytes
from tests.serve.test_jobs_api import wait_done

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ppg_best(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    path, _ = tiny_video(base)
    out = tmp_path_factory.mktemp("serve_ppg")
    res = CliRunner().invoke(app, [
        "train", "ppg_map", "--set", f"data.manifest={path}", "--set", "train.progress=false",
        "--set", "train.epochs=1", "--set", "train.batch_size=16", "--set",
        f"data.signals_dir={tiny_signals(base)}", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out / "best"


@pytest.fixture(scope="module")
def fake_clip(tmp_path_factory):
    """A fake clip of the tiny benchmark, upscaled so dlib finds its face."""
    _, rows = tiny_video(tmp_path_factory.getbasetemp())
    fake = rows[rows["label"] == 1].iloc[0]
    return upscaled_clip(rows.attrs["root"] + "/" + fake["path"],
                         tmp_path_factory.mktemp("serve_clip") / "clip.mp4")


def test_images_skip_the_clip_detector_and_videos_get_its_windows(make_client, toy_best,
                                                                   ppg_best, fake_clip):
    c = make_client(models=[toy_best, ppg_best])
    r = c.post("/detect", files={"files": ("p.png", png_bytes(), "image/png")})
    assert r.status_code == 200, r.text
    f = r.json()["files"][0]
    assert set(f["detectors"]) == {"tiny"} and "ppg_map" in f["not_applicable"]
    assert "videos only" in f["not_applicable"]["ppg_map"]

    r = c.post("/jobs", files={"file": ("clip.mp4", fake_clip.read_bytes(), "video/mp4")})
    assert r.status_code == 202
    job, _ = wait_done(c, r.headers["Location"])
    assert job["state"] == "done", job
    e = job["result"]["detectors"]["ppg_map"]
    assert e["n_windows"] == len(e["frames"]) >= 1 and all(p["window"] for p in e["frames"])
    times = [p["time"] for p in e["frames"]]
    assert times == sorted(times) and times[0] > 0  # a window's centre, not its start
    assert e["maps"]["ppg"].startswith("data:image/png;base64,")
    assert "tiny" in job["result"]["detectors"]


def test_only_clip_detectors_refuse_an_image_with_a_hint(make_client, ppg_best):
    c = make_client(models=[ppg_best])
    r = c.post("/detect", files={"files": ("p.png", png_bytes(), "image/png")})
    assert r.status_code == 422 and "POST /jobs" in r.text
