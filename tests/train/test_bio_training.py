"""Map detectors in the run step: train ppg_map on a video manifest's windows, reuse the run and
its signal/map caches, score one row per clip (deterministic and MC dropout), skip bad clips."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from fakescope.config import load_config
from fakescope.data.manifest import select_split
from fakescope.errors import ConfigError
from fakescope.train.map_scoring import clip_means
from fakescope.train.run import fit_or_reuse, read_record, score
from fakescope.train.signal_data import is_map_detector, map_dirs, map_spec
from tests._dummies.bio_video import tiny_signals, tiny_video

BASE = ["model.name=ppg_map", "data.flow=none", "train.batch_size=16", "train.progress=false",
        "optim.lr=0.003"]


def _cfg(manifest, *extra):
    return load_config(None, [f"data.manifest={manifest}", *BASE, *extra])


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return tiny_video(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def signals(video, tmp_path_factory):
    """The session's signals folder (explicit ``data.signals_dir``; the maps use the default
    folder under the run)."""
    return tiny_signals(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def trained(video, signals, tmp_path_factory):
    path, rows = video
    out = tmp_path_factory.mktemp("ppg_run")
    return out, fit_or_reuse(_cfg(path, "train.epochs=2", f"data.signals_dir={signals}"), rows,
                             out)


def _stamps(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.rglob("*.npz")}


def test_clip_means_average_each_clips_windows_per_pass():
    probs = torch.tensor([[[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.4, 0.6]],
                          [[0.7, 0.3], [0.3, 0.7], [0.0, 1.0], [0.6, 0.4]]])  # (T=2, W=4, C=2)
    p, pos = clip_means(probs, ["b", "a", "b", "c"], ["a", "b", "x", "c"])
    assert list(pos) == [0, 1, 3] and p.shape == (2, 3, 2)
    np.testing.assert_allclose(p[0].numpy(), [[0.5, 0.5], [0.55, 0.45], [0.4, 0.6]], atol=1e-6)
    np.testing.assert_allclose(p[1, 1].numpy(), [0.35, 0.65], atol=1e-6)


def test_map_settings_are_validated():
    assert is_map_detector("ppg_map") and is_map_detector("motion_map")
    assert not is_map_detector("resnet18")
    for bad, msg in (("data.landmarks=gt", "'data.landmarks' must be one of manifest, detect"),
                     ("data.flow=lk", "'data.flow' must be one of farneback, dis, none"),
                     ("data.map_window=4", "'data.map_window' must be >= 8")):
        with pytest.raises(ConfigError, match=msg):
            load_config("ppg_map", [bad])
    with pytest.raises(ConfigError, match="motion_map reads optical flow"):
        map_spec(load_config("motion_map", ["data.flow=none"]))
    spec = map_spec(load_config("motion_map", ["data.map_window=32", "data.map_stride=8"]))
    assert (spec.kind, spec.window, spec.stride) == ("motion", 32, 8)


def test_default_cache_folders_are_per_dataset_and_settings_under_the_run(tmp_path):
    rows = pd.DataFrame({"sample_id": ["a"], "path": ["a.mp4"]})
    rows.attrs["root"] = str(tmp_path / "bench")
    dirs = map_dirs(load_config("ppg_map"), tmp_path / "run", rows)
    tag = dirs.signals.name.split("_")[0]
    assert tag.startswith("bench-") and len(tag) == len("bench-") + 8
    assert dirs.signals == tmp_path / "run" / "signals" / f"{tag}_manifest_none"
    assert dirs.maps == tmp_path / "run" / "maps" / f"{tag}_manifest_none_ppg_w64_s32"
    assert not dirs.explicit
    rows.attrs["root"] = str(tmp_path / "other" / "bench")
    assert map_dirs(load_config("ppg_map"), tmp_path / "run", rows).signals.name != \
        dirs.signals.name  # another benchmark with the same sample ids: other folders


@pytest.mark.slow
def test_trains_on_windows_and_caches_maps_in_the_run(trained, video, signals):
    out, run = trained
    path, rows = video
    assert not run.reused and run.best_epoch in (1, 2) and np.isfinite(run.best_metric)
    assert run.model.arch["name"] == "ppg_map" and run.image_size == 64
    rec = read_record(out)
    assert rec["finished"] and "landmarks_path" in rec["rows"]["columns"]
    assert rec["rows"]["n_train"] == 8 and rec["rows"]["n_val"] == 2
    dirs = map_dirs(run.config, out, rows)
    assert dirs.signals == signals and dirs.maps.parent == out / "maps"
    assert dirs.maps.name.endswith("_manifest_none_ppg_w64_s32")
    assert len(_stamps(dirs.maps)) == 10  # train + val clips; test clips wait for scoring
    assert json.loads((dirs.maps / "signals_source.json").read_text()) == {
        "signals_dir": str(signals.resolve())}
    hist = json.loads((out / "history.json").read_text())
    assert len(hist) == 2 and all(np.isfinite(h["train_loss"]) for h in hist)


@pytest.mark.slow
def test_rerun_reuses_the_run_and_a_retrain_reuses_the_caches(trained, video, signals):
    out, _ = trained
    path, rows = video
    before = _stamps(signals) | _stamps(out / "maps")
    sig = f"data.signals_dir={signals}"
    again = fit_or_reuse(_cfg(path, "train.epochs=2", "train.device=cpu", sig), rows, out)
    assert again.reused
    copy = out.parent / (out.name + "_retrain")
    shutil.copytree(out, copy)  # copy2 keeps the files' times; the module's run stays as it is
    redone = fit_or_reuse(_cfg(path, "train.epochs=1", sig), rows, copy, retrain=True)
    assert not redone.reused and len(redone.history) == 1
    assert _stamps(signals) | _stamps(copy / "maps") == before  # nothing re-extracted


@pytest.mark.slow
def test_score_gives_one_row_per_clip_with_the_image_columns(trained, video):
    _, run = trained
    _, rows = video
    table = score(run, rows)
    assert list(table["sample_id"]) == list(rows["sample_id"]) and table.attrs["skipped"] == {}
    assert list(table.columns[:6]) == ["sample_id", "label", "p_fake", "pred", "logit_0",
                                       "logit_1"]
    assert table.columns[-1] == "row" and {"source", "split", "video_id"} <= set(table.columns)
    assert table["p_fake"].between(0, 1).all()
    assert not any(c.startswith("unc_") for c in table.columns)
    probs = torch.softmax(torch.tensor(table[["logit_0", "logit_1"]].to_numpy()), -1)
    np.testing.assert_allclose(1 - probs[:, 0].numpy(), table["p_fake"], atol=1e-5)


@pytest.mark.slow
def test_mc_scores_are_per_clip_with_uncertainty_and_bad_clips_are_skipped(trained, video):
    _, run = trained
    _, rows = video
    test = select_split(rows, "test")
    bad = test.iloc[:1].copy()
    bad["sample_id"], bad["path"] = "missing_clip", "videos/none.mp4"
    rows3 = pd.concat([test, bad], ignore_index=True)
    rows3.attrs = dict(rows.attrs)
    table = score(run, rows3, method="mc", samples=8, seed=1)
    assert list(table["sample_id"]) == list(test["sample_id"])
    assert list(table.attrs["skipped"]) == [2] and "none.mp4" in table.attrs["skipped"][2]
    for c in ("unc_total", "unc_aleatoric", "unc_epistemic", "unc_variance"):
        assert table[c].notna().all() and (table[c] >= 0).all()
    np.testing.assert_allclose(table["unc_total"], table["unc_aleatoric"]
                               + table["unc_epistemic"], atol=1e-9)
    det = score(run, test)
    assert np.abs(table["p_fake"].to_numpy() - det["p_fake"].to_numpy()).max() < 0.2


def test_old_records_without_the_map_keys_still_reuse_an_image_run(toy_checkpoint, toy_manifest,
                                                                   tmp_path):
    out = tmp_path / "old"
    shutil.copytree(toy_checkpoint, out)
    rec = json.loads((out / "run.json").read_text())
    for k in ("signals_dir", "map_cache", "map_window", "map_stride", "landmarks", "flow",
              "signal_workers"):
        rec["settings"]["data"].pop(k)
    (out / "run.json").write_text(json.dumps(rec))
    cfg = load_config(None, [f"data.manifest={toy_manifest}", "data.image_size=32",
                             "model.name=tiny", "train.epochs=2", "train.batch_size=16",
                             "optim.lr=0.01", "train.progress=false"])
    assert fit_or_reuse(cfg, out=out).reused


@pytest.mark.slow
def test_explicit_folders_holding_other_clips_or_maps_are_refused(trained, video, signals,
                                                                  tmp_path):
    out, run = trained
    _, rows = video
    moved = rows.copy()
    moved.attrs = {**rows.attrs, "root": str(tmp_path)}  # same sample ids, other files
    with pytest.raises(ConfigError, match="holds another clip under sample id"):
        score(run, select_split(moved, "test"))
    maps = map_dirs(run.config, out, rows).maps
    cfg = _cfg("x.csv", f"data.signals_dir={tmp_path / 's'}", f"data.map_cache={maps}")
    with pytest.raises(ConfigError, match="map cache was filled from the signals in"):
        score(dataclasses.replace(run, config=cfg), select_split(rows, "test"))
