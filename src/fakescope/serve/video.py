"""A video job: sampled frames, the face in each, every detector in turn, a per-frame timeline.

Frames: ``video_frames`` evenly spaced frames (:func:`fakescope.data.video.read_frames`). Faces:
dlib finds the largest face of each frame, aligned as ``fakescope data faces`` and ``fakescope
detect`` align it. ``faces="auto"`` follows each checkpoint's preprocessing record: a detector
trained on whole images that are face crops already (``preprocessing.faces.crop ==
"whole_image"``, e.g. SynthFaces) scores whole frames, any other one the aligned face (HOG);
``"hog"``/``"cnn"`` force face crops for every detector, ``"none"`` whole frames. Each detector then scores
every frame with a face, and its entry is stored as soon as it is done (the job's partial
result). Per detector:

- ``frames``: ``[{"frame", "time", "p_fake", "p_fake_range", "face", "box"}]`` — the timeline
  (``p_fake`` null where no face was found);
- clip ``p_fake`` = mean over scored frames; clip uncertainty from the per-pass clip means
  ``p_t = mean_f P_t(fake | frame f)`` decomposed like an image's (``(T, 1, 2)``), as
  ``fakescope detect`` does for map detectors' windows;
- ``maps``: overlays on the frame it finds most fake (``map_frame``), warped back from the
  aligned crop onto the face in the frame.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fakescope.data.dataset import resize_to_tensor
from fakescope.errors import DataError
from fakescope.serve.detectors import overlay_maps, score_inputs
from fakescope.serve.limits import IntakeError
from fakescope.serve.results import detector_entry, file_answer
from fakescope.serve.verdict import spread

Tick = Callable[[float, str, dict[str, Any] | None], None]


def wants_faces(det, setting: str) -> bool:
    """Whether detector ``det`` scores aligned faces (else whole frames); see the module doc."""
    if setting != "auto":
        return setting != "none"
    crop = ((det.meta.get("preprocessing") or {}).get("faces") or {})
    return not (isinstance(crop, dict) and crop.get("crop") == "whole_image")


def _frames_and_faces(path: Path, *, frames: int, faces: str | None, max_seconds: float,
                      tick: Tick) -> tuple[list[dict], float]:
    from fakescope.data.faces import align_face, create_face_detector, select_faces
    from fakescope.data.video import probe_video, read_frames

    info = probe_video(path)
    fps = info.fps if info.fps and info.fps > 0 else 25.0
    seconds = info.frame_count / fps if info.frame_count else 0.0
    if seconds > max_seconds:
        raise IntakeError(422, f"video is {seconds:.0f} s long; the limit is {max_seconds:g} s",
                          limit="video_seconds")
    tick(0.05, "reading frames", None)
    decoded = read_frames(path, num_frames=frames)
    tick(0.15, "finding faces" if faces else "preparing frames", None)
    det = None if faces is None else create_face_detector(faces)
    chosen = select_faces([det.detect(img) for _, img in decoded], "largest") if det else None
    out = []
    for k, (idx, img) in enumerate(decoded):
        rec: dict[str, Any] = {"frame": int(idx), "time": round(idx / fps, 3), "image": img,
                               "crop": None, "box": None, "matrix": None}
        if det is not None and chosen[k]:
            face = chosen[k][0][1]
            rec["crop"], _, rec["matrix"] = align_face(img, face, size=256, margin=1.3)
            rec["box"] = [round(float(v), 1) for v in face.box]
        out.append(rec)
    return out, seconds


def analyse_video(path: Path, name: str, service, *, maps: bool, tick: Tick) -> dict[str, Any]:
    """Score one stored upload (see the module doc); ``tick(progress, stage, partial)`` is
    called between steps (it raises to stop the job: cancelled or over its time limit)."""
    lim = service.limits
    face_dets = [d for d in service.detectors if wants_faces(d, service.video_faces)]
    finder = None
    if face_dets:
        finder = "hog" if service.video_faces in ("auto", "none") else service.video_faces
    try:
        frames, seconds = _frames_and_faces(path, frames=lim.video_frames, faces=finder,
                                            max_seconds=lim.video_seconds, tick=tick)
    except DataError as exc:
        raise IntakeError(422, f"{name}: {exc.problem}"
                          + (f" ({exc.hint})" if exc.hint else "")) from exc
    extra: dict[str, Any] = {"duration_s": round(seconds, 2), "frames_sampled": len(frames)}
    if finder:
        extra["frames_with_face"] = sum(f["crop"] is not None for f in frames)
    entries: dict[str, dict[str, Any]] = {}
    n = len(service.detectors)
    for k, det in enumerate(service.detectors):
        stage = f"scoring with {det.key} ({k + 1}/{n})"
        tick(0.2 + 0.8 * k / n, stage, file_answer(name, "video", dict(entries), **extra)
             if entries else None)
        faces = any(d.key == det.key for d in face_dets)
        scored = [f if faces else {**f, "crop": f["image"], "box": None, "matrix": None}
                  for f in frames if f["crop"] is not None or not faces]
        if not scored:
            found = {"error": f"no face found in any of {len(frames)} sampled frames"}
        else:
            found = _score_frames(det, scored, service, maps=maps)
            found["input"] = "aligned face" if faces else "whole frame"
            found["frames"] = [_timeline_point(f, found["_per_frame"], faces) for f in frames]
            del found["_per_frame"]
        entries[det.key] = detector_entry(det, name, "video", found,
                                          threshold=service.threshold, rule=service.rule)
    return file_answer(name, "video", entries, service.metrics, **extra)


def _score_frames(det, scored: list[dict], service, *, maps: bool) -> dict[str, Any]:
    from fakescope.uncertainty.decompose import COMPONENTS, decompose

    x = torch.stack([resize_to_tensor(f["crop"], det.image_size) for f in scored])
    passes = []
    per_frame: dict[int, dict[str, Any]] = {}
    bs = service.max_batch_size
    for i in range(0, len(x), bs):
        with service.compute_lock:
            found, p = score_inputs(det, x[i:i + bs])
        passes.append(p)
        for j, r in enumerate(found):
            per_frame[scored[i + j]["frame"]] = {"p_fake": r["p_fake"],
                                                 "p_fake_range": spread(p[:, j])}
    allp = np.concatenate(passes, axis=1)  # (T, F)
    clip = allp.mean(axis=1)  # (T,)
    d = decompose(np.stack([1 - clip, clip], axis=-1)[:, None, :])
    out: dict[str, Any] = {"p_fake": float(d["p_fake"][0]),
                           "uncertainty": {c: float(d[c][0]) for c in COMPONENTS},
                           "p_fake_range": spread(clip), "n_frames_scored": len(scored),
                           "_per_frame": per_frame}
    if maps:
        worst = int(np.argmax(allp.mean(axis=0)))
        f = scored[worst]
        with service.compute_lock:
            out["maps"] = overlay_maps(det, f["image"], x[worst], matrix=f["matrix"])
        out["map_frame"] = f["frame"]
    return out


def _timeline_point(f: dict, per_frame: dict[int, dict], faces: bool) -> dict[str, Any]:
    r = per_frame.get(f["frame"], {"p_fake": None, "p_fake_range": None})
    point = {"frame": f["frame"], "time": f["time"], **r}
    if faces:
        point.update(face=f["crop"] is not None, box=f["box"])
    return point
