"""The run step: reuse only what matches, refuse or retrain what does not, one scoring path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fakescope.config import load_config
from fakescope.data.manifest import read_manifest, select_split, subset
from fakescope.errors import ConfigError
from fakescope.train.run import fit_or_reuse, load_run, read_record, score

BASE = ["data.image_size=32", "model.name=tiny", "train.batch_size=16", "optim.lr=0.01",
        "train.progress=false"]


def _cfg(manifest, *extra):
    return load_config(None, [f"data.manifest={manifest}", *BASE, *extra])


@pytest.fixture(scope="module")
def rows(toy_manifest):
    return read_manifest(toy_manifest)


@pytest.fixture(scope="module")
def finished(rows, toy_manifest, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    run = fit_or_reuse(_cfg(toy_manifest, "train.epochs=1"), rows, out)
    return out, run


def test_first_call_trains_and_records(finished):
    out, run = finished
    assert not run.reused and run.best_epoch == 1
    rec = read_record(out)
    assert rec["finished"] and rec["settings"]["train"]["epochs"] == 1
    assert rec["rows"]["n_train"] > 0 and rec["rows"]["n_val"] > 0
    assert not run.model.training


def test_same_settings_and_rows_reuse_without_training(finished, rows, toy_manifest):
    out, first = finished
    stamp = (out / "best" / "model.safetensors").stat().st_mtime_ns
    again = fit_or_reuse(_cfg(toy_manifest, "train.epochs=1", "train.device=cpu"), rows, out)
    assert again.reused
    assert (out / "best" / "model.safetensors").stat().st_mtime_ns == stamp
    x = score(first, select_split(rows, "test"))
    y = score(again, select_split(rows, "test"))
    np.testing.assert_allclose(x["p_fake"], y["p_fake"], atol=1e-6)


def test_other_settings_are_refused_naming_the_difference(finished, rows, toy_manifest):
    out, _ = finished
    with pytest.raises(ConfigError, match=r"train\.epochs: 1 -> 2"):
        fit_or_reuse(_cfg(toy_manifest, "train.epochs=2"), rows, out)


def test_other_rows_are_refused(finished, rows, toy_manifest):
    out, _ = finished
    fewer = subset(rows, ~((rows["split"] == "train") & (rows.index % 7 == 0)))
    with pytest.raises(ConfigError, match="training/validation rows"):
        fit_or_reuse(_cfg(toy_manifest, "train.epochs=1"), fewer, out)


def test_same_counts_other_rows_are_refused(finished, rows, toy_manifest):
    out, _ = finished
    swapped = rows.copy()
    swapped.attrs = dict(rows.attrs)
    tr = swapped.index[swapped["split"] == "train"][0]
    swapped.loc[tr, "label"] = 1 - swapped.loc[tr, "label"]
    with pytest.raises(ConfigError, match="same counts, other rows"):
        fit_or_reuse(_cfg(toy_manifest, "train.epochs=1"), swapped, out)


def test_retrain_replaces_the_run(rows, toy_manifest, tmp_path):
    fit_or_reuse(_cfg(toy_manifest, "train.epochs=1"), rows, tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    run = fit_or_reuse(_cfg(toy_manifest, "train.epochs=2"), rows, tmp_path, retrain=True)
    assert not run.reused and len(run.history) == 2
    assert read_record(tmp_path)["settings"]["train"]["epochs"] == 2
    assert (tmp_path / "notes.txt").read_text() == "mine"  # only the run's own files go


def test_a_folder_without_a_record_is_refused(rows, toy_manifest, tmp_path):
    fit_or_reuse(_cfg(toy_manifest, "train.epochs=1"), rows, tmp_path)
    (tmp_path / "run.json").unlink()
    with pytest.raises(ConfigError, match="no run.json"):
        fit_or_reuse(_cfg(toy_manifest, "train.epochs=1"), rows, tmp_path)


def test_score_matches_the_engine_and_load_run(finished, rows):
    out, run = finished
    test = select_split(rows, "test")
    a = score(run, test)
    b = score(load_run(out / "best"), test)
    assert list(a["sample_id"]) == list(test["sample_id"])
    np.testing.assert_allclose(a["p_fake"], b["p_fake"], atol=1e-6)
    probs = np.exp(a[["logit_0", "logit_1"]].to_numpy())
    np.testing.assert_allclose(a["p_fake"], probs[:, 1] / probs.sum(1), atol=1e-5)


def test_stochastic_score_adds_uncertainty(finished, rows):
    _, run = finished
    s = score(run, select_split(rows, "test"), method="mc_head", samples=4)
    for c in ("unc_total", "unc_aleatoric", "unc_epistemic", "unc_variance"):
        assert c in s and (s[c] >= 0).all()
    assert ((s["p_fake"] >= 0) & (s["p_fake"] <= 1)).all()


def test_per_video_score_averages_frames_per_pass(finished, rows):
    _, run = finished
    test = select_split(rows, "test").copy()
    test["video_id"] = [f"v{i // 2}" for i in range(len(test))]  # pairs of rows = one video
    frames = score(run, test, method="mc_head", samples=5, seed=1)
    videos = score(run, test, method="mc_head", samples=5, seed=1, per_video=True)
    assert videos["sample_id"].tolist() == sorted(set(test["video_id"]), key=lambda v: int(v[1:]))
    assert videos["n_frames"].sum() == len(test)
    # p_fake: the mean over frames (the mean of per-pass means is the mean of means); up to
    # renormalising bf16 probabilities (train.amp) before or after the mean
    want = frames.groupby("video_id", sort=False)["p_fake"].mean()
    np.testing.assert_allclose(videos["p_fake"], want.to_numpy(), atol=2e-3)
    # uncertainty: the passes' disagreement about the video, not the mean of the frames'
    frame_mean = frames.groupby("video_id", sort=False)["unc_epistemic"].mean().to_numpy()
    assert not np.allclose(videos["unc_epistemic"], frame_mean)


def test_score_cache_is_keyed_by_run_rows_and_method(finished, rows, tmp_path):
    _, run = finished
    test = select_split(rows, "test")
    path = tmp_path / "s.csv"
    score(run, test, cache=path)
    key = json.loads((tmp_path / "s.csv.json").read_text())
    stamp = path.stat().st_mtime_ns
    score(run, test, cache=path)
    assert path.stat().st_mtime_ns == stamp
    score(run, test, method="mc_head", samples=3, cache=path)
    assert json.loads((tmp_path / "s.csv.json").read_text()) != key
