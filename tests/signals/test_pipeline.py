"""Whole-clip signals and the resumable batch: synthetic moving faces with a known pulse."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from fakescope.data.faces import Face
from fakescope.data.manifest import write_manifest
from fakescope.data.synthfaces import make_identities, render_face, sample_view
from fakescope.data.video_stream import write_clip
from fakescope.errors import ConfigError, DataError
from fakescope.signals import pipeline
from fakescope.signals.pipeline import clip_signals, extract_signals, load_landmarks
from fakescope.signals.traces import grid_traces, region_traces

HR = 72.0
SIZE, CANVAS = 96, 128


def make_pulse_clip(path, *, hr=HR, fps=20.0, seconds=5.0, seed=0, codec="ffv1", times=None,
                    amp=0.01):
    """A SynthFaces face drifting a few px, its skin brightened by a sine pulse at ``hr`` bpm
    (green strongest), camera noise; returns the true landmarks (T, 68, 2)."""
    rng = np.random.default_rng(seed)
    r = render_face(make_identities(1, seed=seed)[0], sample_view(rng, "studio"), size=SIZE)
    img = r.image.astype(np.float32) * 255
    skin = (r.face_mask > 0).astype(np.float32)[..., None] * np.float32([0.5, 1.0, 0.3])
    t = np.arange(int(round(seconds * fps))) / fps if times is None else np.asarray(times)
    frames, lms = [], []
    for tk in t:
        dx = (CANVAS - SIZE) / 2 + 3 * np.sin(2 * np.pi * 0.3 * tk)
        dy = (CANVAS - SIZE) / 2 + 2 * np.sin(2 * np.pi * 0.2 * tk)
        pulse = 1 + amp * np.sin(2 * np.pi * hr / 60 * tk) * skin
        f = cv2.warpAffine(img * pulse, np.float32([[1, 0, dx], [0, 1, dy]]), (CANVAS, CANVAS),
                           borderMode=cv2.BORDER_REFLECT)
        frames.append(np.clip(f + rng.normal(0, 1.0, f.shape), 0, 255).round().astype(np.uint8))
        lms.append(r.landmarks + np.float32([dx, dy]))
    suffix = {"ffv1": ".mkv"}.get(codec, ".mp4")
    write_clip(path.with_suffix(suffix), frames, fps, codec=codec, times=times)
    return path.with_suffix(suffix), np.stack(lms).astype(np.float32)


class TruthDetector:
    """Fake detector: hands back the given landmarks, one set per call, in call order."""

    def __init__(self, frames_lms):
        self.lms = frames_lms
        self.calls = 0

    def detect(self, image):
        self.calls += 1
        lm = self.lms[self.calls - 1] if self.calls <= len(self.lms) else self.lms[-1]
        return [Face((*lm.min(0), *lm.max(0)), 1.0, lm)]


class NoFace:
    def detect(self, image):
        return []


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    out = {}
    out["a"] = make_pulse_clip(root / "a", seed=0)
    out["b"] = make_pulse_clip(root / "b", seed=1, hr=90.0, codec="h264")
    out["short"] = make_pulse_clip(root / "short", seed=2, seconds=2.0)
    return out


def test_heart_rate_and_shapes_from_true_landmarks(clips):
    path, lm = clips["a"]
    s = clip_signals(path, landmarks=lm, flow="farneback")
    T = len(lm)
    assert s.n_frames == T == 100 and s.fps == pytest.approx(20)
    assert s.region_traces.shape == (T, 5, 3) and s.grid_traces.shape == (T, 32, 3)
    assert s.flow_traces.shape == (T - 1, 5, 2) and s.grid_flow_traces.shape == (T - 1, 32, 2)
    assert s.trajectories.shape == (T, 68, 2) and s.face_mean.shape == (T, 3)
    for m in ("pos", "chrom", "green"):
        assert s.heart_rates[m].hr_bpm == pytest.approx(HR, abs=3), m
        assert s.pulses[m].shape == (T,)
    # the face drifts ~3 px/s: the mean flow of the regions follows the drift's sign
    drift = np.diff(lm.mean(axis=1), axis=0)  # (T-1, 2)
    flow = np.nanmean(s.flow_traces, axis=1)
    assert np.corrcoef(flow[:, 0], drift[:, 0])[0, 1] > 0.8
    summary = s.summary()
    assert summary["n_frames"] == T and summary["face_fraction"] == 1.0
    assert summary["hr_pos_bpm"] == pytest.approx(HR, abs=3) and summary["bad_frames"] == 0
    json.dumps(summary)


def test_cropping_by_chunk_equals_full_frame_traces(clips, monkeypatch):
    from fakescope.data.video_stream import read_clip

    path, lm = clips["a"]
    monkeypatch.setattr(pipeline, "CHUNK", 16)  # several chunks, crossing boundaries
    s = clip_signals(path, landmarks=lm, flow="none", methods=("green",))
    frames = read_clip(path).frames
    np.testing.assert_allclose(s.region_traces, region_traces(frames, lm), rtol=1e-12)
    np.testing.assert_allclose(s.grid_traces, grid_traces(frames, lm), rtol=1e-12)
    assert s.flow_traces is None and list(s.heart_rates) == ["green"]


def test_detector_and_tracker_path(clips):
    path, lm = clips["b"]
    det = TruthDetector(lm[::10])  # called on frames 0, 10, 20, ...: hand back those truths
    s = clip_signals(path, detector=det, detect_every=10, flow="none")
    assert det.calls == s.detector_calls == 10
    assert np.nanmax(np.abs(s.landmarks - lm)) < 1.5
    assert s.heart_rates["chrom"].hr_bpm == pytest.approx(90, abs=4)  # H.264 CRF 23


def test_variable_frame_rate_is_resampled(tmp_path):
    dt = np.where(np.arange(119) % 2, 0.06, 0.04)  # 20 fps on average, uneven
    times = np.concatenate([[0.0], np.cumsum(dt)])
    path, lm = make_pulse_clip(tmp_path / "vfr", times=times, seed=4)
    s = clip_signals(path, landmarks=lm, flow="none")
    assert s.vfr and s.summary()["vfr"]
    np.testing.assert_allclose(s.times, times, atol=1e-3)
    assert len(s.pulse_times) == pytest.approx(times[-1] * s.fps + 1, abs=1)
    assert s.heart_rates["green"].hr_bpm == pytest.approx(HR, abs=3)


def test_clip_errors_name_the_file(clips, tmp_path):
    path, lm = clips["short"]
    with pytest.raises(DataError, match="too short") as exc:
        clip_signals(path, landmarks=lm)
    assert str(path) in str(exc.value)
    a, lm_a = clips["a"]
    with pytest.raises(DataError, match="no face in 100 of 100") as exc:
        clip_signals(a, detector=NoFace(), flow="none")
    assert str(a) in str(exc.value)
    with pytest.raises(DataError, match="landmarks have 50 frames"):
        clip_signals(a, landmarks=lm_a[:50], flow="none")
    with pytest.raises(ConfigError, match="rPPG"):
        clip_signals(a, landmarks=lm_a, methods=("pulse",))
    with pytest.raises(ConfigError, match="flow"):
        clip_signals(a, landmarks=lm_a, flow="lucas")


def test_load_landmarks(tmp_path):
    lm = np.zeros((5, 68, 2), np.float32)
    np.save(tmp_path / "a.npy", lm)
    np.savez(tmp_path / "b.npz", landmarks=lm)
    np.savez(tmp_path / "c.npz", points=lm)
    np.save(tmp_path / "d.npy", np.zeros((5, 5, 2)))
    assert load_landmarks(tmp_path / "a.npy").shape == (5, 68, 2)
    assert load_landmarks(tmp_path / "b.npz").shape == (5, 68, 2)
    with pytest.raises(DataError, match="no 'landmarks'"):
        load_landmarks(tmp_path / "c.npz")
    with pytest.raises(DataError, match="shape"):
        load_landmarks(tmp_path / "d.npy")
    with pytest.raises(DataError, match="not found"):
        load_landmarks(tmp_path / "e.npy")


def _manifest(tmp_path, clips):
    root = tmp_path / "data"
    root.mkdir()
    rows = []
    for name, label in (("a", 0), ("b", 1), ("short", 1)):
        path, lm = clips[name]
        dst = root / path.name
        dst.write_bytes(path.read_bytes())
        if name == "a":
            np.save(root / f"{name}.npy", lm)
        else:
            np.savez(root / f"{name}.npz", landmarks=lm)
        rows.append({"sample_id": f"set/{name}", "path": dst.name, "label": label,
                     "source": "real" if label == 0 else "gen", "video_id": f"v/{name}",
                     "landmarks_path": f"{name}.{'npy' if name == 'a' else 'npz'}"})
    (root / "junk.mp4").write_bytes(b"not a video at all" * 50)
    rows.append({"sample_id": "set/junk", "path": "junk.mp4", "label": 1, "source": "gen",
                 "video_id": "v/junk", "landmarks_path": "a.npy"})
    return write_manifest(pd.DataFrame(rows), root / "m.csv")


def test_batch_is_resumable_and_lists_errors(tmp_path, clips):
    mpath = _manifest(tmp_path, clips)
    out = tmp_path / "out"
    s = extract_signals(mpath, out, landmarks="manifest", flow="none", progress=False)
    assert (s.done, s.skipped, s.failed) == (2, 0, 2)
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in s.errors) == ["junk.mp4", "short.mkv"]
    assert any("too short" in m for _, m in s.errors)
    table = pd.read_csv(out / "signals.csv")
    assert table["sample_id"].tolist() == ["set/a", "set/b"]
    assert table["label"].tolist() == [0, 1] and table["source"].tolist() == ["real", "gen"]
    assert table["hr_green_bpm"].tolist() == pytest.approx([HR, 90], abs=4)
    assert {"path", "fps", "n_frames", "snr_pos_db", "bad_frames", "face_fraction",
            "video_id"} <= set(table.columns)
    errors = pd.read_csv(out / "errors.csv")
    assert errors["sample_id"].tolist() == ["set/short", "set/junk"]
    assert set(errors["kind"]) == {"data"}
    npz = sorted((out / "clips").rglob("*.npz"))
    assert len(npz) == 2
    with np.load(npz[0]) as z:
        assert z["region_traces"].shape == (100, 5, 3) and "flow_traces" not in z.files
        assert z["landmarks"].shape == (100, 68, 2) and float(z["fps"]) == pytest.approx(20)
    again = extract_signals(mpath, out, landmarks="manifest", flow="none", progress=False)
    assert (again.done, again.skipped, again.failed) == (0, 4, 0)
    assert len(pd.read_csv(out / "signals.csv")) == 2 and len(pd.read_csv(out / "errors.csv")) == 2
    with pytest.raises(ConfigError, match="other settings") as exc:
        extract_signals(mpath, out, landmarks="manifest", flow="farneback", progress=False)
    assert "flow" in str(exc.value)


def test_unexpected_errors_are_listed_and_retried(tmp_path, clips, monkeypatch):
    mpath = _manifest(tmp_path, clips)
    out = tmp_path / "out"
    real = pipeline.clip_signals

    def flaky(path, **kw):
        if str(path).endswith("a.mkv"):
            raise RuntimeError("decoder crashed")
        return real(path, **kw)

    monkeypatch.setattr(pipeline, "clip_signals", flaky)
    s = extract_signals(mpath, out, landmarks="manifest", flow="none", methods=("green",),
                        progress=False)
    assert (s.done, s.failed) == (1, 3)
    errors = pd.read_csv(out / "errors.csv")
    assert errors.set_index("sample_id").loc["set/a", "kind"] == "unexpected"
    assert "RuntimeError: decoder crashed" in errors.set_index("sample_id").loc["set/a", "error"]
    monkeypatch.setattr(pipeline, "clip_signals", real)
    again = extract_signals(mpath, out, landmarks="manifest", flow="none", methods=("green",),
                            progress=False)
    assert (again.done, again.skipped, again.failed) == (1, 3, 0)  # only set/a ran again
    assert pd.read_csv(out / "signals.csv")["sample_id"].tolist() == ["set/a", "set/b"]


def test_list_of_paths_and_option_errors(tmp_path, clips):
    paths = [clips["a"][0], clips["b"][0]]
    with pytest.raises(ConfigError, match="landmarks"):
        extract_signals(paths, tmp_path / "o", landmarks="gt")
    with pytest.raises(DataError, match="landmarks_path"):
        extract_signals(paths, tmp_path / "o", landmarks="manifest")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        extract_signals(paths, tmp_path / "file")
    s = extract_signals(paths, tmp_path / "o", detector=NoFace(), flow="none", progress=False)
    assert (s.done, s.failed) == (0, 2) and all("no face" in m for _, m in s.errors)


@pytest.mark.slow
def test_two_spawned_workers_match_one(tmp_path, clips):
    mpath = _manifest(tmp_path, clips)
    one = extract_signals(mpath, tmp_path / "w1", landmarks="manifest", progress=False)
    two = extract_signals(mpath, tmp_path / "w2", landmarks="manifest", workers=2,
                          progress=False)
    assert (two.done, two.failed) == (one.done, one.failed) == (2, 2)
    a = pd.read_csv(tmp_path / "w1" / "signals.csv").drop(columns="path")
    b = pd.read_csv(tmp_path / "w2" / "signals.csv").drop(columns="path")
    pd.testing.assert_frame_equal(a, b)


def test_face_mean_weights_pulse_regions_by_area():
    from fakescope.signals.pipeline import face_mean
    from fakescope.signals.regions import REGIONS, region_polygons

    ident = make_identities(1, seed=0)[0]
    view = sample_view(np.random.default_rng(0), "studio")
    lm = render_face(ident, view, size=96).landmarks.astype(np.float64)[None]
    tr = np.zeros((1, len(REGIONS), 3))
    tr[0, :, 0] = np.arange(len(REGIONS))  # region r has red value r
    tr[0, REGIONS.index("nose")] = 1000.0  # left out: not a pulse region
    polys = region_polygons(lm[0])
    area = {r: cv2.contourArea(polys[r]) for r in ("forehead", "left_cheek", "right_cheek")}
    expect = sum(REGIONS.index(r) * a for r, a in area.items()) / sum(area.values())
    got = face_mean(tr, lm)
    assert got[0, 0] == pytest.approx(expect, rel=1e-5) and got[0, 1] == 0
    tr[0, REGIONS.index("forehead")] = np.nan  # a missing region drops out of the weights
    w = {r: a for r, a in area.items() if r != "forehead"}
    assert face_mean(tr, lm)[0, 0] == pytest.approx(
        sum(REGIONS.index(r) * a for r, a in w.items()) / sum(w.values()), rel=1e-5)
    assert np.isnan(face_mean(tr, np.full((1, 68, 2), np.nan))).all()


def test_merging_a_subset_keeps_the_other_clips_rows(tmp_path):
    """A run over part of a shared signals folder (one training's clips) must not drop the rest
    of signals.csv / errors.csv."""
    import json

    import pandas as pd

    from fakescope.data.face_extraction import item_key
    from fakescope.signals.pipeline import merge_signals

    (tmp_path / "clips").mkdir()
    docs = {"a": {"status": "ok", "hr_pos_bpm": 70.0}, "b": {"status": "ok", "hr_pos_bpm": 80.0},
            "c": {"status": "failed", "error": "too short", "path": "c.mp4"}}
    for sid, doc in docs.items():
        (tmp_path / "clips" / f"{item_key(sid)}.json").write_text(
            json.dumps({"sample_id": sid, **doc}))
    every = pd.DataFrame({"sample_id": ["a", "b", "c"], "label": [0, 1, 1]})
    merge_signals(every, tmp_path)
    merge_signals(every[every.sample_id == "a"], tmp_path)  # a subset run
    table = pd.read_csv(tmp_path / "signals.csv")
    assert sorted(table["sample_id"]) == ["a", "b"]
    assert list(pd.read_csv(tmp_path / "errors.csv")["sample_id"]) == ["c"]
