"""Biological signals of whole clips: decode, landmarks, traces, flow, heart rate; batch runs.

One clip (:func:`clip_signals`): frames are decoded with PyAV
(:mod:`fakescope.data.video_stream`), landmarks come from the detector + Lucas-Kanade tracker
(:mod:`fakescope.data.face_tracking`) or from ground truth ``(T, 68, 2)``. Frames are processed
in chunks of ``CHUNK`` frames, each cropped to its landmarks' box grown by half its size on
every side (the forehead band reaches ~0.5 brow-to-nose lengths above the brows), so the colour
traces equal those of the full frames and the optical flow costs a face, not a frame (the flow
is computed on the crop shrunk to at most ``FLOW_SIDE`` px and scaled back to px/frame of the
full frame: dense flow is the costliest step, ~4x cheaper at 160 than at 320 px). Outputs
(:class:`ClipSignals`): region and grid colour traces, region and grid flow traces, head-
normalised landmark trajectories and jitter, and per rPPG method the pulse signal and the heart
rate of the *face mean*: the mean of the forehead and cheek traces
(:data:`~fakescope.signals.traces.PULSE_ROI`) weighted by the regions' polygon areas (~ pixel
counts). For the heart rate, gaps of up to half a second without a face are filled
linearly and the longest run with a face is used; a variable-frame-rate clip is first resampled
onto a constant grid at its average rate (:func:`~fakescope.data.video_stream.resample_uniform`).

A clip fails (DataError naming it) when it cannot be decoded, is shorter than one signal window
(:func:`~fakescope.signals.rppg.check_length`), or has no face in more than half its frames.

A batch (:func:`extract_signals`) writes::

    OUT/signals_config.json      settings; a re-run with other settings is refused
    OUT/clips/<key>.npz          arrays of one clip (see ClipSignals.arrays)
    OUT/clips/<key>.json         its summary; written last, the clip's done marker; a clip that
                                 failed with a DataError gets one too ("status": "failed")
    OUT/signals.csv              one row per finished clip (manifest columns + summary)
    OUT/errors.csv               every failed clip: sample_id, path, error, kind

``<key>`` is :func:`~fakescope.data.face_extraction.item_key` of the sample id. A re-run skips
clips with a json (delete it to retry a failed clip); unexpected errors (not DataError) are
listed in errors.csv and retried on the next run.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fakescope.backends import Backend, run_tasks
from fakescope.data.face_extraction import _atomic_write_text, item_key
from fakescope.data.face_tracking import FaceTracker
from fakescope.data.faces import create_face_detector
from fakescope.data.manifest import read_manifest, resolve_path
from fakescope.data.video_stream import iter_frames, open_stream, resample_uniform
from fakescope.errors import ConfigError, DataError, FakescopeError
from fakescope.signals.motion import (
    FLOW_METHODS,
    flow_traces,
    grid_flow_traces,
    jitter,
    landmark_trajectories,
)
from fakescope.signals.regions import REGIONS, region_polygons
from fakescope.signals.rppg import METHODS, check_length, heart_rate, pulse_signal
from fakescope.signals.traces import PULSE_ROI, grid_traces, interpolate_gaps, region_traces

CHUNK = 64
CROP_MARGIN = 0.5
FLOW_SIDE = 160
MAX_NO_FACE = 0.5
GRID = (4, 8)
CONFIG_FILE = "signals_config.json"
ERROR_COLUMNS = ["sample_id", "path", "error", "kind"]
MANIFEST_COLUMNS = ("sample_id", "video_id", "label", "source", "split")


@dataclass
class ClipSignals:
    """Signals of one clip. Shapes: T frames, R = len(REGIONS), G = 32 grid cells, K samples
    of the constant-rate grid the heart rate uses (K = T for a constant-rate clip)."""

    path: str
    fps: float
    times: np.ndarray              # (T,) seconds
    landmarks: np.ndarray          # (T, 68, 2) float32, NaN rows without a face
    detected: np.ndarray           # (T,) bool, landmarks from the detector (not tracked)
    region_traces: np.ndarray      # (T, R, 3) mean RGB
    grid_traces: np.ndarray        # (T, G, 3)
    flow_traces: np.ndarray | None  # (T-1, R, 2) px/frame, None with flow="none"
    grid_flow_traces: np.ndarray | None  # (T-1, G, 2)
    trajectories: np.ndarray       # (T, 68, 2) head-normalised landmarks
    face_mean: np.ndarray          # (T, 3) area-weighted mean of the PULSE_ROI traces
    pulse_times: np.ndarray        # (K,) seconds of the segment the heart rate used
    pulses: dict = field(default_factory=dict)       # method -> (K,) pulse signal
    heart_rates: dict = field(default_factory=dict)  # method -> rppg.HeartRate
    bad_frames: int = 0
    vfr: bool = False
    rotation: int = 0
    detector_calls: int = 0

    @property
    def n_frames(self) -> int:
        return len(self.times)

    @property
    def face_fraction(self) -> float:
        return float(np.isfinite(self.landmarks[:, 0, 0]).mean()) if self.n_frames else 0.0

    def summary(self) -> dict:
        """JSON-able summary: path, fps, frames, bad frames, face fraction, HR/SNR per method."""
        out = {"path": self.path, "fps": round(self.fps, 4), "n_frames": self.n_frames,
               "duration_s": round(float(self.times[-1] - self.times[0]) + 1 / self.fps, 3),
               "bad_frames": self.bad_frames, "face_fraction": round(self.face_fraction, 4),
               "vfr": self.vfr, "rotation": self.rotation,
               "detector_calls": self.detector_calls,
               "jitter_px": _num(jitter(self.landmarks)),
               "hr_seconds": round(len(self.pulse_times) / self.fps, 3)}
        for m, hr in self.heart_rates.items():
            out[f"hr_{m}_bpm"] = _num(hr.hr_bpm)
            out[f"snr_{m}_db"] = _num(hr.snr_db)
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays written to ``<key>.npz`` (flow keys only when computed)."""
        out = {"times": self.times, "fps": np.float64(self.fps), "landmarks": self.landmarks,
               "detected": self.detected, "regions": np.array(REGIONS),
               "region_traces": self.region_traces, "grid_traces": self.grid_traces,
               "trajectories": self.trajectories, "face_mean": self.face_mean,
               "pulse_times": self.pulse_times}
        if self.flow_traces is not None:
            out["flow_traces"] = self.flow_traces
            out["grid_flow_traces"] = self.grid_flow_traces
        for m, sig in self.pulses.items():
            out[f"pulse_{m}"] = sig
        return out


def _num(x: float):
    return None if not np.isfinite(x) else round(float(x), 4)


def _check_options(methods, flow: str) -> tuple[str, ...]:
    methods = (methods,) if isinstance(methods, str) else tuple(methods)
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise ConfigError(f"rPPG method(s) {bad or 'none'}", hint=f"use {', '.join(METHODS)}")
    if flow != "none" and flow not in FLOW_METHODS:
        raise ConfigError(f"flow={flow!r}", hint=f"use none or {', '.join(FLOW_METHODS)}")
    return methods


def _crop_box(lms: np.ndarray, shape) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) around the finite landmarks of ``lms`` (n, 68, 2), clipped."""
    pts = lms[np.isfinite(lms[:, 0, 0])].reshape(-1, 2)
    if len(pts) == 0:
        return None
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    m = CROP_MARGIN * max(x1 - x0, y1 - y0)
    h, w = shape[:2]
    box = (max(int(np.floor(x0 - m)), 0), max(int(np.floor(y0 - m)), 0),
           min(int(np.ceil(x1 + m)) + 1, w), min(int(np.ceil(y1 + m)) + 1, h))
    return box if box[2] > box[0] and box[3] > box[1] else None


class _Traces:
    """Accumulates per-chunk traces; keeps the last frame for the flow across chunks."""

    def __init__(self, flow: str):
        self.flow = flow
        self.parts: dict[str, list[np.ndarray]] = {"region": [], "grid": [], "flow": [],
                                                   "grid_flow": []}
        self.prev: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, frames: list[np.ndarray], lms: np.ndarray) -> None:
        n, g = len(frames), GRID[0] * GRID[1]
        seq_f = ([self.prev[0]] if self.prev else []) + frames
        seq_l = np.concatenate([self.prev[1][None], lms]) if self.prev else lms
        box = _crop_box(seq_l, frames[0].shape)
        n_flow = len(seq_f) - 1
        if box is None:
            self.parts["region"].append(np.full((n, len(REGIONS), 3), np.nan))
            self.parts["grid"].append(np.full((n, g, 3), np.nan))
            self.parts["flow"].append(np.full((n_flow, len(REGIONS), 2), np.nan))
            self.parts["grid_flow"].append(np.full((n_flow, g, 2), np.nan))
        else:
            x0, y0, x1, y1 = box
            crops = [f[y0:y1, x0:x1] for f in seq_f]
            local = seq_l - np.array([x0, y0], np.float32)
            k = len(seq_f) - n  # 1 when the previous chunk's last frame leads
            self.parts["region"].append(region_traces(crops[k:], local[k:]))
            self.parts["grid"].append(grid_traces(crops[k:], local[k:], *GRID))
            if self.flow != "none":
                self._add_flow(crops, local)
        self.prev = (frames[-1], lms[-1])

    def _add_flow(self, crops: list[np.ndarray], local: np.ndarray) -> None:
        """Flow traces on the crops shrunk to at most FLOW_SIDE px, in full-size px/frame."""
        scale = min(1.0, FLOW_SIDE / max(crops[0].shape[:2]))
        if scale < 1.0:
            crops = [cv2.resize(c, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                     for c in crops]
            local = local * scale
        self.parts["flow"].append(flow_traces(crops, local, method=self.flow) / scale)
        self.parts["grid_flow"].append(
            grid_flow_traces(crops, local, *GRID, method=self.flow) / scale)

    def result(self, name: str, width: int, depth: int) -> np.ndarray:
        parts = self.parts[name]
        return np.concatenate(parts) if parts else np.zeros((0, width, depth))


def face_mean(region_tr: np.ndarray, landmarks: np.ndarray,
              regions: tuple[str, ...] = PULSE_ROI) -> np.ndarray:
    """Area-weighted mean ``(T, 3)`` of the ``regions`` of region traces ``(T, R, 3)`` (REGIONS
    order); weights are the region polygons' areas (shoelace) in each frame, so it is the mean
    over the pixels of those regions; NaN rows where none has a value."""
    idx = [REGIONS.index(r) for r in regions]
    out = np.full((len(region_tr), 3), np.nan)
    for t in np.flatnonzero(np.isfinite(landmarks[:, 0, 0])):
        polys = region_polygons(landmarks[t])
        area = np.array([_area(polys[REGIONS[i]]) for i in idx])
        tr = region_tr[t, idx]
        ok = np.isfinite(tr[:, 0]) & (area > 0)
        if ok.any():
            out[t] = (tr[ok] * area[ok, None]).sum(axis=0) / area[ok].sum()
    return out


def _area(poly: np.ndarray) -> float:
    x, y = poly[:, 0].astype(np.float64), poly[:, 1].astype(np.float64)
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def _longest_run(ok: np.ndarray) -> slice:
    edges = np.diff(np.concatenate([[0], ok.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if len(starts) == 0:
        return slice(0, 0)
    i = int(np.argmax(ends - starts))
    return slice(int(starts[i]), int(ends[i]))


def _landmark_source(landmarks, times: list[float], fps: float, vfr: bool, path: Path):
    """Ground-truth landmark row for decoded frame i (by time stamp for CFR clips, so a
    skipped bad frame does not shift the rest)."""
    lm = np.asarray(landmarks, np.float32)
    if lm.ndim != 3 or lm.shape[1:] != (68, 2):
        raise DataError(f"landmarks must have shape (T, 68, 2), got {lm.shape}", path=path)

    def row(i: int) -> np.ndarray:
        k = i if vfr else int(round(times[i] * fps))
        if k >= len(lm):
            raise DataError(f"landmarks have {len(lm)} frames, the video has more", path=path,
                            hint="the landmarks file must cover every frame")
        return lm[k]
    return row


def clip_signals(path: str | Path, *, detector="hog", landmarks=None, detect_every: int = 10,
                 methods: Iterable[str] = ("pos", "chrom", "green"), flow: str = "farneback",
                 max_frames: int | None = None,
                 detect_max_side: int | None = None) -> ClipSignals:
    """All signals of one clip (see module doc). ``detector``: ``"hog"``/``"cnn"`` or an object
    with ``detect(image) -> list[Face]`` (used when ``landmarks`` is None); ``landmarks``:
    ground truth ``(T, 68, 2)``; ``flow``: ``farneback``, ``dis`` or ``none``."""
    path = Path(path)
    methods = _check_options(methods, flow)
    info = open_stream(path)
    n_expect = min(info.n_frames, max_frames) if max_frames else info.n_frames
    check_length(n_expect, info.fps, path=path)
    tracker = None
    if landmarks is None:
        tracker = FaceTracker(create_face_detector(detector), detect_every=detect_every,
                              detect_max_side=detect_max_side)
    frames_it = iter_frames(path, max_frames=max_frames)
    acc = _Traces(flow)
    times, lms, detected = [], [], []
    chunk: list[np.ndarray] = []
    gt = (None if landmarks is None
          else _landmark_source(landmarks, times, info.fps, info.vfr, path))
    for i, (t, rgb) in enumerate(frames_it):
        times.append(t)
        if tracker is not None:
            pts, det = tracker.update(rgb)
            pts = np.full((68, 2), np.nan, np.float32) if pts is None else pts
        else:
            pts, det = gt(i), False
        lms.append(pts)
        detected.append(det)
        chunk.append(rgb)
        if len(chunk) == CHUNK:
            acc.add(chunk, np.stack(lms[-CHUNK:]))
            chunk = []
    if chunk:
        acc.add(chunk, np.stack(lms[-len(chunk):]))
    lm = np.stack(lms)
    fps = info.fps
    n, g = len(lm), GRID[0] * GRID[1]
    no_face = int(np.isnan(lm[:, 0, 0]).sum())
    if no_face > MAX_NO_FACE * n:
        raise DataError(f"no face in {no_face} of {n} frames (more than "
                        f"{MAX_NO_FACE:.0%})", path=path,
                        hint="dlib HOG needs a frontal face of about 80 px or more")
    region = acc.result("region", len(REGIONS), 3)
    fm = face_mean(region, lm)
    times_a = np.asarray(times, np.float64)
    sig_times, sig = times_a, fm
    if info.vfr:
        sig_times, sig = resample_uniform(times_a, fm, fps)
    sig = interpolate_gaps(sig, max(int(round(fps / 2)), 1), edges="hold")
    run = _longest_run(np.isfinite(sig).all(axis=1))
    sig, sig_times = sig[run], sig_times[run]
    check_length(len(sig), fps, path=path)
    out = ClipSignals(
        str(path), fps, times_a, lm, np.asarray(detected, bool), region,
        acc.result("grid", g, 3),
        acc.result("flow", len(REGIONS), 2) if flow != "none" else None,
        acc.result("grid_flow", g, 2) if flow != "none" else None,
        landmark_trajectories(lm).astype(np.float32), fm, sig_times,
        bad_frames=frames_it.bad_frames, vfr=info.vfr, rotation=info.rotation,
        detector_calls=tracker.calls if tracker else 0)
    for m in methods:
        try:
            out.pulses[m] = pulse_signal(sig, fps, m)
            out.heart_rates[m] = heart_rate(out.pulses[m], fps, method=m)
        except DataError as exc:
            raise DataError(f"{m}: {exc.problem}", path=path, hint=exc.hint) from exc
    return out


def load_landmarks(path: str | Path) -> np.ndarray:
    """Landmarks ``(T, 68, 2)`` from an ``.npy`` or an ``.npz`` (key ``landmarks``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("landmarks file not found", path=path)
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                if "landmarks" not in data.files:
                    raise DataError(f"no 'landmarks' array (has {', '.join(data.files)})",
                                    path=path)
                data = data["landmarks"]
    except (OSError, ValueError) as exc:
        raise DataError(f"unreadable landmarks file ({exc})", path=path) from exc
    if data.ndim != 3 or data.shape[1:] != (68, 2):
        raise DataError(f"landmarks must have shape (T, 68, 2), got {data.shape}", path=path)
    return data.astype(np.float32)


def save_npz(path: str | Path, arrays: dict) -> Path:
    """Write arrays to ``path`` (.npz) atomically (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    tmp.replace(path)
    return path


# ---------------------------------------------------------------- batch


@dataclass
class SignalSummary:
    """Counts of one :func:`extract_signals` run: ``done`` clips finished now, ``skipped``
    finished before (a re-run), ``failed`` now; ``errors`` [(path, message)] of this run."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list = field(default_factory=list)
    signals_path: str = ""
    errors_path: str = ""


def _settings(detect_every, landmarks, methods, flow, max_frames, detector) -> dict:
    det = detector if isinstance(detector, str) else (
        detector.describe() if hasattr(detector, "describe") else type(detector).__name__)
    return {"detect_every": int(detect_every), "landmarks": landmarks, "methods": list(methods),
            "flow": flow, "max_frames": max_frames,
            "detector": det if landmarks == "detect" else None}


def _check_config(out_dir: Path, cfg: dict) -> None:
    path = out_dir / CONFIG_FILE
    if path.is_file():
        old = json.loads(path.read_text())
        if old != cfg:
            diff = {k: (old.get(k), cfg.get(k)) for k in sorted(set(old) | set(cfg))
                    if old.get(k) != cfg.get(k)}
            raise ConfigError(f"folder holds signals extracted with other settings {diff} "
                              "(old, new)", path=out_dir,
                              hint="use a new --out folder or the same settings")
    else:
        _atomic_write_text(path, json.dumps(cfg, indent=1, sort_keys=True))


def _rows(source) -> pd.DataFrame:
    """Manifest DataFrame, manifest file, or a list of video paths -> rows with abs paths."""
    if isinstance(source, (str, Path)):
        df = read_manifest(source)
    elif isinstance(source, pd.DataFrame):
        df = source
    else:
        paths = [str(p) for p in source]
        df = pd.DataFrame({"sample_id": paths, "path": paths})
        df.attrs["root"] = os.getcwd()
    if "sample_id" not in df.columns or "path" not in df.columns:
        raise DataError("manifest needs sample_id and path columns",
                        path=df.attrs.get("origin", "<manifest>"))
    if df["sample_id"].duplicated().any():
        dup = df.loc[df["sample_id"].duplicated(), "sample_id"].iloc[0]
        raise DataError(f"duplicate sample_id {dup!r}", path=df.attrs.get("origin", "<list>"))
    df = df.copy()
    df["abs_path"] = [str(resolve_path(df, str(p))) for p in df["path"]]
    if "landmarks_path" in df.columns:
        df["abs_landmarks"] = [str(resolve_path(df, str(p))) if isinstance(p, str) and p
                               else "" for p in df["landmarks_path"]]
    return df


class _SignalWorker:
    """One clip per task: writes its npz + json; returns {sample_id, path, status, error}.
    Set up once per process: OpenCV threads (1 where processes share the cores), the face
    detector."""

    def __init__(self, cfg: dict, detector, out_dir: Path, threads: int | None):
        self.cfg, self.detector_spec, self.out_dir, self.threads = cfg, detector, out_dir, threads
        self.detector = None

    def __getstate__(self):
        return {**self.__dict__, "detector": None}

    def setup(self) -> None:
        if not (self.out_dir / CONFIG_FILE).is_file():
            raise DataError(f"the output folder is not visible on {socket.gethostname()}",
                            path=self.out_dir, hint="put --out on a filesystem every node "
                            "mounts at the same path")
        if self.threads:
            cv2.setNumThreads(self.threads)
        if self.cfg["landmarks"] == "detect":
            self.detector = create_face_detector(self.detector_spec)

    def __call__(self, task: dict) -> dict:
        cfg, out_dir = self.cfg, self.out_dir
        sid, path = task["sample_id"], task["abs_path"]
        key = item_key(sid)
        res = {"sample_id": sid, "path": path, "status": "ok", "error": ""}
        try:
            gt = None
            if cfg["landmarks"] == "manifest":
                if not task.get("abs_landmarks"):
                    raise DataError("no landmarks_path for this clip in the manifest",
                                    path=path, hint="use landmarks=detect or add the column")
                gt = load_landmarks(task["abs_landmarks"])
            sig = clip_signals(path, detector=self.detector, landmarks=gt,
                               detect_every=cfg["detect_every"], methods=cfg["methods"],
                               flow=cfg["flow"], max_frames=cfg["max_frames"])
            save_npz(out_dir / "clips" / f"{key}.npz", sig.arrays())
            doc = {"sample_id": sid, "status": "ok", **sig.summary()}
        except FakescopeError as exc:
            msg = exc.problem + (f" ({exc.hint})" if exc.hint else "")
            if exc.path and exc.path != str(path):
                msg = f"{exc.path}: {msg}"
            res.update(status="failed", error=msg)
            doc = {"sample_id": sid, "path": path, "status": "failed", "error": msg}
        except Exception as exc:  # noqa: BLE001 - reported, not marked done, retried next run
            res.update(status="error", error=f"{type(exc).__name__}: {exc}")
            return res
        _atomic_write_text(out_dir / "clips" / f"{key}.json", json.dumps(doc))
        return res


def _failed(task: dict, message: str) -> dict:
    """A clip whose task raised or whose process kept dying (a crash in a decoder?)."""
    return {"sample_id": task["sample_id"], "path": task["abs_path"], "status": "error",
            "error": message}


def extract_signals(manifest_or_paths, out_dir: str | Path, *, workers: int = 1,
                    detect_every: int = 10, landmarks: str = "detect",
                    methods: Iterable[str] = ("pos", "chrom", "green"),
                    flow: str = "farneback", max_frames: int | None = None,
                    detector="hog", progress: bool = True,
                    backend: Backend | None = None) -> SignalSummary:
    """Signals of every clip of a manifest (DataFrame or file; relative paths resolve at its
    root) or a list of video paths, into ``out_dir`` (files in the module doc).

    ``landmarks``: ``detect`` (``detector`` every ``detect_every`` frames + tracking) or
    ``manifest`` (column ``landmarks_path``: an .npy/.npz of (T, 68, 2) per clip).
    ``workers``: processes (spawned; each loads the detector once); ``backend``: where the
    clips run instead (local processes or Ray tasks; the nodes must see ``out_dir``).
    Resumable; per-clip errors are counted and listed, the batch goes on; a clip whose
    process died is run again (``backend.retries`` times).
    """
    if landmarks not in ("detect", "manifest"):
        raise ConfigError(f"landmarks={landmarks!r}", hint="use detect or manifest")
    if workers < 1:
        raise ConfigError(f"workers={workers}", hint="use 1 or more")
    backend = backend or Backend("local", workers)
    if detect_every < 1:
        raise ConfigError(f"detect_every={detect_every}", hint="use 1 or more")
    methods = _check_options(methods, flow)
    df = _rows(manifest_or_paths)
    if landmarks == "manifest" and "landmarks_path" not in df.columns:
        raise DataError("landmarks=manifest needs a landmarks_path column",
                        path=df.attrs.get("origin", "<manifest>"),
                        hint="add it (an .npy/.npz of (T, 68, 2) per clip) or use detect")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError("output folder is a file", path=out_dir, hint="choose a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = _settings(detect_every, landmarks, methods, flow, max_frames, detector)
    _check_config(out_dir, cfg)
    summary = SignalSummary()
    tasks = []
    for row in df.to_dict("records"):
        if (out_dir / "clips" / f"{item_key(str(row['sample_id']))}.json").is_file():
            summary.skipped += 1
            continue
        tasks.append({"sample_id": str(row["sample_id"]), "abs_path": row["abs_path"],
                      "abs_landmarks": row.get("abs_landmarks", "")})
    unexpected: list[dict] = []
    try:
        worker = _SignalWorker(cfg, detector, out_dir, None if backend.inline else 1)
        for _, res in run_tasks(worker, tasks, backend=backend, on_failure=_failed,
                                progress="signals" if progress else None, unit="clip"):
            if res["status"] == "ok":
                summary.done += 1
                continue
            summary.failed += 1
            summary.errors.append((res["path"], res["error"]))
            if res["status"] == "error":
                unexpected.append({"sample_id": res["sample_id"], "path": res["path"],
                                   "error": res["error"], "kind": "unexpected"})
    finally:
        paths = merge_signals(df, out_dir, extra_errors=unexpected)
        summary.signals_path, summary.errors_path = paths
    return summary


def _kept(path: Path, ids: set[str]) -> list[dict]:
    if not path.is_file() or path.stat().st_size == 0:
        return []
    prev = pd.read_csv(path, dtype={"sample_id": str})
    if "sample_id" not in prev:
        return []
    return prev[~prev["sample_id"].isin(ids)].to_dict("records")


def merge_signals(df: pd.DataFrame, out_dir: str | Path, *,
                  extra_errors: list[dict] | None = None) -> tuple[str, str]:
    """Rebuild ``signals.csv`` and ``errors.csv`` from the clip json files, in manifest order.

    Rows of clips outside ``df`` that the tables already hold are kept first (a run over a
    subset of a shared folder, e.g. one training's train/val clips, does not drop the others)."""
    out_dir = Path(out_dir)
    ids = set(df["sample_id"].astype(str))
    rows, errors = _kept(out_dir / "signals.csv", ids), _kept(out_dir / "errors.csv", ids)
    errors += list(extra_errors or [])
    for row in df.to_dict("records"):
        f = out_dir / "clips" / f"{item_key(str(row['sample_id']))}.json"
        if not f.is_file():
            continue
        doc = json.loads(f.read_text())
        if doc.get("status") != "ok":
            errors.append({"sample_id": doc["sample_id"], "path": doc.get("path", ""),
                           "error": doc.get("error", ""), "kind": "data"})
            continue
        base = {k: row[k] for k in MANIFEST_COLUMNS if k in row}
        rows.append({**base, **{k: v for k, v in doc.items() if k not in ("status",)}})
    spath, epath = out_dir / "signals.csv", out_dir / "errors.csv"
    _atomic_write_text(spath, pd.DataFrame(rows).to_csv(index=False) if rows else
                       "sample_id,path\n")
    _atomic_write_text(epath, pd.DataFrame(errors, columns=ERROR_COLUMNS).to_csv(index=False))
    return str(spath), str(epath)
