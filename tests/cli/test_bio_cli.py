"""The map detectors from the command line: `train ppg_map` through the packaged recipe,
`evaluate` per clip, `detect CLIP.mp4` with MC dropout and saved maps, and bad input as one
clear error per file."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fakescope.cli.main import app, main
from fakescope.data.video_stream import write_clip
from tests._dummies.bio_video import tiny_signals, tiny_video, upscaled_clip

runner = CliRunner()
QUIET = ["--set", "train.progress=false", "--set", "train.epochs=1", "--set",
         "train.batch_size=16"]


def _main_exit(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code, capsys.readouterr()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A ppg_map run trained by `fakescope train ppg_map` on the tiny video benchmark."""
    path, rows = tiny_video(tmp_path_factory.getbasetemp())
    signals = tiny_signals(tmp_path_factory.getbasetemp())
    out = tmp_path_factory.mktemp("cli_ppg")
    res = runner.invoke(app, ["train", "ppg_map", "--set", f"data.manifest={path}", *QUIET,
                              "--set", f"data.signals_dir={signals}", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return path, rows, out, res.output


@pytest.mark.slow
def test_train_through_the_recipe_scores_the_test_clips(trained):
    path, rows, out, output = trained
    said = " ".join(output.split())  # rich wraps long lines
    assert "best auc" in said and "ppg maps: 10 of 10 clips, 30 windows" in said
    assert "signals: 0 new, 10 cached" in said  # the session's signals folder had them
    scores = pd.read_csv(out / "scores_test.csv")
    assert list(scores["sample_id"]) == list(rows.loc[rows["split"] == "test", "sample_id"])
    assert scores["p_fake"].between(0, 1).all()
    cfg = json.loads((out / "run.json").read_text())["settings"]
    assert cfg["model"]["name"] == "ppg_map" and cfg["data"]["flow"] == "none"
    res = runner.invoke(app, ["train", "ppg_map", "--set", f"data.manifest={path}", *QUIET,
                              "--out", str(out)])  # the signals folder may move: still reused
    assert res.exit_code == 0 and "reusing" in res.output


@pytest.mark.slow
def test_evaluate_writes_clip_scores(trained, tmp_path):
    path, rows, out, _ = trained
    res = runner.invoke(app, ["evaluate", "--model", str(out / "best"), "--manifest", str(path),
                              "--split", "all", "--out", str(tmp_path / "s.csv"),
                              "--bootstrap", "10"])
    assert res.exit_code == 0, res.output
    scores = pd.read_csv(tmp_path / "s.csv")
    assert len(scores) == len(rows) and scores["sample_id"].is_unique


@pytest.mark.slow
def test_detect_a_clip_with_mc_dropout_and_saved_maps(trained, tmp_path):
    _, rows, out, _ = trained
    fake = rows[(rows["split"] == "test") & (rows["label"] == 1)].iloc[0]
    clip = upscaled_clip(rows.attrs["root"] + "/" + fake["path"], tmp_path / "clip.mp4")
    res = runner.invoke(app, ["detect", str(clip), "--model", str(out / "best"), "--json",
                              "--uncertainty", "mc", "--samples", "4", "--save-maps",
                              str(tmp_path / "maps")])
    assert res.exit_code == 0, res.output
    [r] = json.loads(res.stdout)
    assert r["kind"] == "video" and r["detector"] == "ppg_map" and 0 <= r["p_fake"] <= 1
    assert r["n_windows"] == 3 and [w["start"] for w in r["windows"]] == [0, 32, 64]
    assert r["p_fake"] == pytest.approx(np.mean([w["p_fake"] for w in r["windows"]]), abs=1e-6)
    u = r["uncertainty"]
    assert u["total"] == pytest.approx(u["aleatoric"] + u["epistemic"], abs=1e-6)
    png = tmp_path / "maps" / "clip_ppg_map.png"
    assert r["maps"] == {"ppg": str(png)} and png.stat().st_size > 0


@pytest.mark.slow
def test_bad_input_is_a_clear_error_per_file(trained, tmp_path, capsys):
    _, rows, out, _ = trained
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(135)]
    short = write_clip(tmp_path / "short.mp4", noise[:45], 30.0)
    faceless = write_clip(tmp_path / "faceless.mp4", noise, 30.0)
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), noise[0])
    code, res = _main_exit(["detect", str(image), str(short), str(faceless), "--model",
                            str(out / "best"), "--json"], capsys)
    assert code == 2 and "Traceback" not in res.err
    errors = {r["path"]: r["error"] for r in json.loads(res.out)}
    assert "ppg_map scores video clips" in errors[str(image)]
    assert "too short" in errors[str(short)] and "1.50 s" in errors[str(short)]
    assert "no face in" in errors[str(faceless)]
    assert "3 of 3 file(s) could not be scored" in res.err


@pytest.mark.slow
@pytest.mark.parametrize("extra,fragment", [
    (["--uncertainty", "tta"], "does not apply to map detectors"),
    (["--uncertainty", "mc", "--map", "m"], "use --save-maps DIR"),
])
def test_image_only_options_are_refused_in_one_line(trained, tmp_path, capsys, extra, fragment):
    _, _, out, _ = trained
    clip = write_clip(tmp_path / "c.mp4", [np.zeros((32, 32, 3), np.uint8)] * 8, 30.0)
    code, res = _main_exit(["detect", str(clip), "--model", str(out / "best"), *extra], capsys)
    assert code == 2 and fragment in res.err and len(res.err.strip().splitlines()) == 1


@pytest.mark.parametrize("method", ["bnn", "ensemble"])
def test_detect_map_clips_with_bnn_and_ensemble(tmp_path, monkeypatch, method):
    """bnn (a Bayesian ppg_map) and ensemble (two checkpoints) through `detect`, the clip's
    signals stubbed: the result is one clip with its windows and a per-clip decomposition."""
    import torch

    import fakescope.train.signal_data as signal_data
    from fakescope.config import load_config
    from fakescope.models import create_detector
    from fakescope.models.bayesian import bayesianize
    from fakescope.models.checkpoint import save_detector

    maps = np.random.default_rng(0).normal(size=(4, 3, 64, 64)).astype(np.float32)
    monkeypatch.setattr(signal_data, "video_maps",
                        lambda path, spec, **kw: (maps, np.arange(4) * spec.stride))
    meta = {"training": load_config("ppg_map").to_dict()}
    ckpts = []
    for seed in (0, 1) if method == "ensemble" else (0,):
        torch.manual_seed(seed)
        model = create_detector("ppg_map", dropout=0.3)
        if method == "bnn":
            model = bayesianize(model, heads=True, last_stage=True, posterior_sigma=0.05)
        ckpts += ["--model", str(save_detector(model, tmp_path / f"m{seed}", meta))]
    clip = write_clip(tmp_path / "c.mp4", [np.zeros((32, 32, 3), np.uint8)] * 8, 30.0)
    res = runner.invoke(app, ["detect", str(clip), *ckpts, "--json", "--uncertainty", method,
                              "--samples", "6"])
    assert res.exit_code == 0, res.output
    [r] = json.loads(res.stdout)
    assert r["n_windows"] == 4 and [w["start"] for w in r["windows"]] == [0, 32, 64, 96]
    assert r["p_fake"] == pytest.approx(np.mean([w["p_fake"] for w in r["windows"]]), abs=1e-6)
    assert r["uncertainty"]["epistemic"] > 0
