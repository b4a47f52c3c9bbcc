"""A video job: each detector's session scores the stored clip in turn (``video_frames`` evenly
spaced frames, the face of each found and aligned as the checkpoint's training data was), and
its entry is stored as soon as it is done: the job's partial result.

A biological detector (``ppg_map``, ``motion_map``) scores the clip's signal-map windows instead
of frames; its timeline has one point per window, at the window's centre
(:func:`window_timeline`).

Per detector (the session's video result, :mod:`fakescope.detect`): ``frames`` — the timeline,
``[{"frame", "face", "box", "p_fake", "uncertainty", "ood_score", "in_distribution"}]`` to which
the service adds ``time`` (s) and ``p_fake_range`` — the clip's ``p_fake`` (mean over frames
with a face), its uncertainty (per pass, the mean over frames, decomposed), and with maps the
overlays of the most-fake frame at the video's resolution (``maps.frame`` says which).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fakescope.detect import MediaInput
from fakescope.errors import DataError
from fakescope.serve.limits import IntakeError
from fakescope.serve.results import detector_entry, file_answer

Tick = Callable[[float, str, dict[str, Any] | None], None]


def probe(path: Path, name: str, max_seconds: float) -> tuple[float, float]:
    """``(fps, seconds)`` from the header; 422 over ``max_seconds``, or when unreadable."""
    from fakescope.data.video import probe_video

    try:
        info = probe_video(path)
    except DataError as exc:
        raise IntakeError(422, f"{name}: {exc.problem}") from exc
    fps = info.fps if info.fps and info.fps > 0 else 25.0
    seconds = info.frame_count / fps if info.frame_count else 0.0
    if seconds > max_seconds:
        raise IntakeError(422, f"{name}: video is {seconds:.0f} s long; the limit is "
                          f"{max_seconds:g} s", limit="video_seconds")
    return fps, seconds


def window_timeline(result: dict[str, Any], det, fps: float) -> list[dict[str, Any]]:
    """A biological detector's timeline: one point per signal-map window at its centre frame
    (``start + window / 2``) with the window's P(fake) (the mean over the passes)."""
    from fakescope.detect.clips import map_config

    window = map_config(det.meta, det.path).data.map_window
    return [{"frame": int(w["start"]) + window // 2, "p_fake": w["p_fake"], "window": True}
            for w in result["windows"]]


def analyse_video(path: Path, name: str, service, *, maps: bool, tick: Tick) -> dict[str, Any]:
    """Score one stored upload (see the module doc); ``tick(progress, stage, partial)`` runs
    between detectors (it raises to stop the job: deleted, or over its time limit)."""
    tick(0.02, "reading the video header", None)
    fps, seconds = probe(path, name, service.limits.video_seconds)
    extra = {"duration_s": round(seconds, 2)}
    entries: dict[str, dict[str, Any]] = {}
    n = len(service.detectors)
    for k, det in enumerate(service.detectors):
        partial = file_answer(name, "video", dict(entries), **extra) if entries else None
        tick(0.05 + 0.95 * k / n, f"scoring with {det.key} ({k + 1}/{n})", partial)
        with service.compute_lock:
            (r,) = det.score([MediaInput(name=path.name, path=path, kind="video")], maps=maps)
        if r.get("reason") == "video_error":
            raise IntakeError(422, f"{name}: {r['error']}")
        if "windows" in r and not r.get("frames"):
            r["frames"] = window_timeline(r, det, fps)
        for f in r.get("frames") or []:
            f["time"] = round(f["frame"] / fps, 3)
        entries[det.key] = detector_entry(det, name, r, rule=service.rule)
    return file_answer(name, "video", entries, service.metrics, **extra)
