"""The map cache: one file per clip, resumable, one spec per folder, failures listed; the
per-window index; end to end from a SynthFaces clip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fakescope.data.face_extraction import item_key
from fakescope.errors import ConfigError
from fakescope.signals.map_cache import build_map_cache, cache_file, cache_index, read_cache_spec
from fakescope.signals.maps import MapSpec, clip_maps
from fakescope.signals.pipeline import save_npz

FPS = 30.0


def clip_arrays(frames: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / FPS
    pulse = 1 + 0.01 * np.sin(2 * np.pi * 1.2 * t)[:, None, None] * np.array([0.3, 0.8, 0.5])
    grid = np.array([170.0, 120.0, 100.0]) * pulse + rng.normal(0, 0.1, (frames, 32, 3))
    return {"fps": np.float64(FPS), "grid_traces": grid,
            "grid_flow_traces": rng.normal(0, 0.1, (frames - 1, 32, 2)),
            "trajectories": np.zeros((frames, 68, 2), np.float32)}


@pytest.fixture
def signals(tmp_path):
    """A signals folder with clips a (180 frames, 4 windows), b (150, 3), c (130, too short
    for rPPG's 4 s), and a manifest that also names d (no signals file)."""
    out = tmp_path / "signals"
    for sid, n in (("vid/a", 180), ("vid/b", 150), ("vid/c", 100)):
        save_npz(out / "clips" / f"{item_key(sid)}.npz", clip_arrays(n, len(sid) + n))
    man = pd.DataFrame({"sample_id": ["vid/a", "vid/b", "vid/c", "vid/d"], "label": [0, 1, 1, 0],
                        "source": ["real", "sbi", "sbi", "real"], "split": ["train"] * 4})
    man.attrs["origin"] = "manifest.csv"
    return out, man


def test_cache_writes_resumes_refuses_another_spec_and_lists_failures(signals, tmp_path):
    sig, man = signals
    cache = tmp_path / "cache"
    spec = MapSpec("ppg")
    s = build_map_cache(man, sig, cache, spec)
    assert (s.done, s.skipped, s.failed) == (2, 0, 2)
    assert [e[0] for e in s.errors] == ["vid/c", "vid/d"]
    assert "4.0 s" in s.errors[0][1] and "no signals file" in s.errors[1][1]
    errors = pd.read_csv(cache / "errors.csv")
    assert list(errors["sample_id"]) == ["vid/c", "vid/d"]
    assert read_cache_spec(cache) == spec
    with np.load(cache_file(cache, "vid/a")) as f:
        assert f["maps"].dtype == np.float16 and f["maps"].shape == (4, 3, 64, 64)
        assert list(f["starts"]) == [0, 32, 64, 96] and str(f["sample_id"]) == "vid/a"
        assert json.loads(str(f["spec"])) == spec.to_dict()
        exact, _ = clip_maps(sig / "clips" / f"{item_key('vid/a')}.npz", spec)
        assert np.abs(f["maps"].astype(np.float32) - exact).max() < 1e-2
    mtime = cache_file(cache, "vid/a").stat().st_mtime_ns
    again = build_map_cache(man, sig, cache, spec)
    assert (again.done, again.skipped, again.failed) == (0, 2, 2)  # failures are retried
    assert cache_file(cache, "vid/a").stat().st_mtime_ns == mtime
    with pytest.raises(ConfigError, match="another spec") as err:
        build_map_cache(man, sig, cache, MapSpec("ppg", window=32))
    assert "another cache folder" in str(err.value)
    motion = build_map_cache(man, sig, tmp_path / "motion", MapSpec("motion"))
    assert (motion.done, motion.failed) == (3, 1)  # no 4 s rule for flow


def test_cache_index_one_row_per_window(signals, tmp_path):
    sig, man = signals
    cache = tmp_path / "cache"
    build_map_cache(man, sig, cache, MapSpec("ppg"))
    idx = cache_index(man, cache)
    assert list(idx.columns) == [*man.columns, "window", "start", "map_path"]
    assert list(idx["sample_id"]) == ["vid/a"] * 4 + ["vid/b"] * 3
    assert list(idx["window"]) == [0, 1, 2, 3, 0, 1, 2]
    assert list(idx["start"]) == [0, 32, 64, 96, 0, 32, 64]
    assert list(idx["label"]) == [0] * 4 + [1] * 3
    assert idx["map_path"].iloc[0] == str(cache_file(cache, "vid/a").resolve())
    assert idx.attrs["origin"] == "manifest.csv"
    assert len(cache_index(man, tmp_path / "empty")) == 0


@pytest.mark.slow
def test_end_to_end_from_a_synthfaces_clip(tmp_path):
    """SynthFaces video -> clip_signals (true landmarks, Farneback flow) -> both map caches ->
    index -> dataset -> the registered detectors."""
    import torch

    from fakescope.data.signal_maps import SignalMapDataset
    from fakescope.data.synthfaces.video_build import build_video_benchmark
    from fakescope.models import create_detector
    from fakescope.signals.pipeline import clip_signals

    df = build_video_benchmark(tmp_path / "v", identities=3, clips_per_identity=1, seconds=4.5,
                               size=48, domains=("studio",), generators=("sbi",))
    man = pd.concat([df[df.label == 0].head(1), df[df.label == 1].head(1)])
    for r in man.itertuples():
        lm = np.load(tmp_path / "v" / r.truth_path)["landmarks"]
        arrays = clip_signals(tmp_path / "v" / r.path, landmarks=lm).arrays()
        save_npz(tmp_path / "sig" / "clips" / f"{item_key(r.sample_id)}.npz", arrays)
    for kind in ("ppg", "motion"):
        s = build_map_cache(man, tmp_path / "sig", tmp_path / kind, MapSpec(kind))
        assert (s.done, s.failed) == (2, 0), s.errors
        ds = SignalMapDataset(cache_index(man, tmp_path / kind))
        assert len(ds) == 6 and set(ds.clip_ids) == set(man["sample_id"])  # 135 frames: 3 each
        x = torch.stack([ds[i]["image"] for i in range(len(ds))])
        assert x.shape == (6, 3, 64, 64) and torch.isfinite(x).all() and x.abs().sum() > 0
        out = create_detector(f"{kind}_map").eval()(x)["detect"]
        assert out.shape == (6, 2)
