"""Batch face extraction: manifest of images/videos -> aligned crops + landmarks + a crop manifest.

Output folder::

    OUT/faces_config.json        settings; a re-run with other settings is refused
    OUT/items/<key>.json         one per finished source row (its done marker, written atomically)
    OUT/crops/<key>/<frame>_<face>.png   aligned crop;  .npy beside it: landmarks (K, 2) float32
                                          in crop pixels
    OUT/faces.csv                manifest of every crop finished so far (all shards)
    OUT/skipped.csv              what was skipped and why (missing_file, zero_length,
                                 unreadable, no_face per frame, error)
    OUT/summary.json             counts of this run

Rows are split across shards by ``crc32(sample_id) % num_shards`` (stable when rows are added),
so ``--num-shards N --shard-index i`` on N machines sharing OUT covers the manifest once.
Within a shard, rows are tasks of a :class:`~fakescope.backends.Backend` (this process, local
processes, or Ray tasks on a cluster whose nodes see OUT at the same path); a task whose
process died is run again. A re-run skips rows whose item file exists; unexpected errors are
logged and retried next run.
Each run rewrites ``faces.csv`` from all item files, so the last shard to finish writes the
complete manifest.
"""

from __future__ import annotations

import json
import os
import re
import socket
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fakescope.backends import Backend, run_tasks
from fakescope.data.faces import align_face, create_face_detector, select_faces
from fakescope.data.images import VIDEO_SUFFIXES, load_image, save_image
from fakescope.data.manifest import read_manifest, resolve_path, write_manifest
from fakescope.data.video import read_frames
from fakescope.errors import ConfigError, DataError

SKIP_COLUMNS = ["source_sample_id", "path", "frame", "reason", "detail"]
DROP_FROM_SOURCE = ("sample_id", "path", "frame", "media", "landmarks_path")


@dataclass
class ExtractionSummary:
    """Counts of one ``extract_faces`` run (``items`` = rows in this shard)."""

    items: int = 0
    done_before: int = 0
    processed: int = 0
    items_with_faces: int = 0
    items_skipped: int = 0
    frames: int = 0
    frames_without_face: int = 0
    crops: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    total_crops: int = 0
    manifest_path: str = ""
    skipped_path: str = ""


def item_key(sample_id: str) -> str:
    """Filesystem-safe relative key for a sample id: sanitised parts + crc32 of the id."""
    parts = [re.sub(r"[^A-Za-z0-9._-]", "_", p) for p in sample_id.split("/") if p]
    parts = [p if p not in (".", "..") else "_" for p in parts] or ["item"]
    parts[-1] = f"{parts[-1]}-{zlib.crc32(sample_id.encode()):08x}"
    return "/".join(parts)


def shard_of(sample_id: str, num_shards: int) -> int:
    return zlib.crc32(sample_id.encode()) % num_shards


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


class _Worker:
    """Processes one source row; holds the detector (loaded once per process)."""

    def __init__(self, detector, out_dir: Path, cfg: dict):
        self.detector, self.out_dir, self.cfg = detector, out_dir, cfg
        self._writer = None

    def __getstate__(self):
        return {**self.__dict__, "_writer": None}

    def setup(self) -> None:
        """In each worker process: the output folder must be this run's (on a cluster: the
        same path on a shared filesystem)."""
        if not (self.out_dir / "faces_config.json").is_file():
            raise DataError(f"the output folder is not visible on {socket.gethostname()}",
                            path=self.out_dir, hint="put --out on a filesystem every node "
                            "mounts at the same path")

    def _save(self, rel: Path, crop: np.ndarray, lm_rel: str, lm) -> Future:
        # PNG encoding runs in a thread (OpenCV releases the GIL) while the next frame is
        # detected; an item's done marker is written only after all its files are saved.
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1)

        def job():
            save_image(self.out_dir / rel, crop)
            if lm_rel:
                np.save(self.out_dir / lm_rel, lm)
        return self._writer.submit(job)

    def frames(self, task: dict) -> list[tuple[int, np.ndarray]]:
        path = Path(task["abs_path"])
        is_video = task.get("media") == "video" or (
            not task.get("media") and path.suffix.lower() in VIDEO_SUFFIXES)
        if is_video:
            return read_frames(path, num_frames=self.cfg["frames_per_video"],
                               stride=self.cfg["stride"])
        return [(int(task.get("frame", 0) or 0), load_image(path))]

    def __call__(self, task: dict) -> dict:
        sid, path = task["sample_id"], Path(task["abs_path"])
        key = item_key(sid)
        result = {"sample_id": sid, "crops": [], "skipped": [], "frames": 0, "done": True}

        def skip(reason, detail="", frame=-1):
            result["skipped"].append({"source_sample_id": sid, "path": str(path),
                                      "frame": frame, "reason": reason, "detail": detail})

        try:
            if not path.is_file():
                skip("missing_file", "no such file")
            elif path.stat().st_size == 0:
                skip("zero_length", "0 bytes")
            else:
                self._extract(task, key, result, skip)
        except DataError as exc:
            skip("unreadable", exc.problem)
        except Exception as exc:  # noqa: BLE001 - logged and retried on the next run
            skip("error", f"{type(exc).__name__}: {exc}")
            result["done"] = False
        if result["done"]:
            _atomic_write_text(self.out_dir / "items" / f"{key}.json", json.dumps(result))
        return result

    def _extract(self, task, key, result, skip) -> None:
        frames = self.frames(task)
        result["frames"] = len(frames)
        if self.cfg["policy"] == "tracked":  # tracking needs every frame's faces first
            chosen = select_faces([self.detector.detect(img) for _, img in frames], "tracked")
        else:  # detect lazily so crop writing overlaps the next detection
            chosen = (select_faces([self.detector.detect(img)], self.cfg["policy"])[0]
                      for _, img in frames)
        size, margin = self.cfg["size"], self.cfg["margin"]
        pending: list[Future] = []
        (self.out_dir / "crops" / key).mkdir(parents=True, exist_ok=True)
        for (fidx, img), faces in zip(frames, chosen, strict=True):
            if not faces:
                skip("no_face", "no face detected", fidx)
                continue
            for face_index, face in faces:
                crop, lm, _ = align_face(img, face, size=size, margin=margin)
                rel = Path("crops") / key / f"{fidx:06d}_{face_index:02d}.png"
                lm_rel = "" if lm is None else rel.with_suffix(".npy").as_posix()
                pending.append(self._save(rel, crop, lm_rel, lm))
                x0, y0, x1, y1 = face.box
                result["crops"].append({
                    "path": rel.as_posix(), "landmarks_path": lm_rel, "frame": fidx,
                    "face_index": face_index, "det_score": round(float(face.score), 4),
                    "box_x0": x0, "box_y0": y0, "box_x1": x1, "box_y1": y1})
        for fut in pending:
            fut.result()  # re-raises a failed write


def _config(frames_per_video, stride, policy, size, margin, detector) -> dict:
    det = detector.describe() if hasattr(detector, "describe") else {
        "detector": type(detector).__name__}
    return {"frames_per_video": frames_per_video, "stride": stride, "policy": policy,
            "size": int(size), "margin": float(margin), **det}


def _check_config(out_dir: Path, cfg: dict) -> None:
    path = out_dir / "faces_config.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if old != cfg:
            diff = {k: (old.get(k), cfg.get(k)) for k in set(old) | set(cfg)
                    if old.get(k) != cfg.get(k)}
            raise ConfigError(f"folder was extracted with other settings {diff} (old, new)",
                              path=out_dir, hint="use a new --out folder or the same settings")
    else:
        _atomic_write_text(path, json.dumps(cfg, indent=1, sort_keys=True))


def extract_faces(manifest: pd.DataFrame | str | Path, out_dir: str | Path, *,
                  frames_per_video: int | None = 32, stride: int | None = None,
                  policy: str = "largest", size: int = 256, margin: float = 1.3,
                  detector="hog", landmarks: int = 68, upsample: int = 0, workers: int = 1,
                  num_shards: int = 1, shard_index: int = 0, progress: bool = False,
                  backend: Backend | None = None) -> ExtractionSummary:
    """Detect, align and save faces for every row of ``manifest`` in this shard.

    ``manifest``: DataFrame (``attrs["root"]`` resolves relative paths) or a manifest file.
    ``frames_per_video``: N evenly spaced frames per video (None with ``stride=None``: all).
    ``detector``: ``"hog"``, ``"cnn"`` or an object with ``detect(image) -> list[Face]``
    (must pickle when tasks run in other processes). ``backend``: where the rows of this
    shard run (default: the local backend with ``workers`` processes).
    Returns the run's :class:`ExtractionSummary`; writes the files in the module doc.
    """
    df = read_manifest(manifest) if isinstance(manifest, (str, Path)) else manifest
    backend = backend or Backend("local", workers)
    if not 0 <= shard_index < num_shards:
        raise ConfigError(f"shard_index={shard_index} with num_shards={num_shards}",
                          hint="use 0 <= shard-index < num-shards")
    if stride is not None:
        frames_per_video = None
    det = create_face_detector(detector, landmarks=landmarks, upsample=upsample)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = _config(frames_per_video, stride, policy, size, margin, det)
    select_faces([], policy)  # validates the policy name before any work
    _check_config(out_dir, cfg)
    summary = ExtractionSummary()
    tasks = []
    for row in df.to_dict("records"):
        sid = str(row["sample_id"])
        if shard_of(sid, num_shards) != shard_index:
            continue
        summary.items += 1
        if (out_dir / "items" / f"{item_key(sid)}.json").is_file():
            summary.done_before += 1
            continue
        tasks.append({**row, "abs_path": str(resolve_path(df, str(row["path"])))})
    worker = _Worker(det, out_dir, cfg)
    errors: list[dict] = []
    try:
        for _, res in run_tasks(worker, tasks, backend=backend, on_failure=_failed,
                                progress="faces" if progress else None):
            summary.processed += 1
            summary.frames += res["frames"]
            summary.crops += len(res["crops"])
            summary.items_with_faces += bool(res["crops"])
            reasons = [s["reason"] for s in res["skipped"]]
            summary.frames_without_face += reasons.count("no_face")
            summary.items_skipped += any(r != "no_face" for r in reasons)
            for r in reasons:
                summary.skipped_by_reason[r] = summary.skipped_by_reason.get(r, 0) + 1
            if not res["done"]:
                errors.extend(res["skipped"])
    finally:
        merged = merge_faces(df, out_dir, extra_skipped=errors)
        summary.total_crops = merged["crops"]
        summary.pending = merged["pending"]
        summary.manifest_path = merged["manifest_path"]
        summary.skipped_path = merged["skipped_path"]
        _atomic_write_text(out_dir / "summary.json", json.dumps(asdict(summary), indent=1))
    return summary


def _failed(task: dict, message: str) -> dict:
    """The result of a row whose task raised or whose process kept dying: listed, not done."""
    return {"sample_id": task["sample_id"], "crops": [], "frames": 0, "done": False,
            "skipped": [{"source_sample_id": task["sample_id"], "path": task["abs_path"],
                         "frame": -1, "reason": "error", "detail": message}]}


def merge_faces(manifest: pd.DataFrame, out_dir: str | Path, *,
                extra_skipped: list[dict] | None = None) -> dict:
    """Rebuild ``faces.csv`` and ``skipped.csv`` from every finished item file in ``out_dir``.

    Rows follow the source manifest's order, then frame, then face index. Returns
    ``{"crops", "pending", "manifest_path", "skipped_path"}`` (pending = rows not finished).
    """
    out_dir = Path(out_dir)
    crops, skipped, pending = [], list(extra_skipped or []), 0
    for row in manifest.to_dict("records"):
        sid = str(row["sample_id"])
        f = out_dir / "items" / f"{item_key(sid)}.json"
        if not f.is_file():
            pending += 1
            continue
        res = json.loads(f.read_text())
        skipped.extend(res["skipped"])
        base = {k: v for k, v in row.items() if k not in DROP_FROM_SOURCE}
        for c in sorted(res["crops"], key=lambda c: (c["frame"], c["face_index"])):
            crops.append({**base, "sample_id": f"{sid}/{c['frame']:06d}_{c['face_index']:02d}",
                          "source_sample_id": sid, **c, "media": "image"})
    cols = ["sample_id", "path", "label", "source_sample_id", "face_index", "frame",
            "landmarks_path"]
    faces = pd.DataFrame(crops) if crops else pd.DataFrame(columns=cols)
    mpath = write_manifest(faces, out_dir / "faces.csv")
    spath = out_dir / "skipped.csv"
    tmp = spath.with_name(".skipped.csv.tmp")
    pd.DataFrame(skipped, columns=SKIP_COLUMNS).to_csv(tmp, index=False)
    tmp.replace(spath)
    return {"crops": len(crops), "pending": pending, "manifest_path": str(mpath),
            "skipped_path": str(spath)}
