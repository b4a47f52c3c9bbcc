"""Track one face's 68 landmarks through a video: detect every k frames, Lucas-Kanade between.

Per frame ``t`` (RGB ``uint8 (H, W, 3)``):

- *detect* when ``t`` is a multiple of ``detect_every`` since the last detection, when there is
  no face yet, or when tracking fails. The detector is anything with ``detect(image) ->
  list[Face]`` (:class:`~fakescope.data.faces.DlibDetector`) or a plain callable with that
  signature; faces need 68-point landmarks and ``score >= min_score``. With a previous face the
  one whose box centre is nearest to the previous box's is kept, otherwise the largest.
- *track* otherwise: pyramidal Lucas-Kanade (``cv2.calcOpticalFlowPyrLK``, 21 px window, 3
  pyramid levels, on a window of the previous face box grown by its size on every side) moves
  the previous frame's points forward, then back; a point is *good* when
  both passes find it and the forward-backward error ``|back - p|`` is at most
  ``fb_threshold`` px. Good points take their tracked position; the others follow the
  similarity transform (``cv2.estimateAffinePartial2D``) fitted to the good ones. Tracking
  *fails*, and the detector runs on this frame at once, when fewer than ``min_tracked`` of the
  68 points are good.

A scheduled detection that agrees with the track (mean point distance at most ``keep_tracked``
of the detected face's size, 3 % by default) keeps the tracked points: re-anchoring on every
detection would add the detector's own jitter (~1-2 px for dlib) as a step every k frames, which
shows up in colour traces and flow; a larger disagreement (drift) replaces them. A scheduled
detection that finds nothing while tracking holds keeps the track and asks again next frame.
Without a track, a frame where the detector finds no face has NaN landmarks (a *lost* frame);
the detector runs again on the next frame. ``detect_max_side`` downscales large frames for the detector only
(landmarks are scaled back), which makes dlib's HOG detector ~4x faster on 1080p video.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from fakescope.data.faces import Face
from fakescope.errors import ConfigError

N_POINTS = 68
_LK = {"winSize": (21, 21), "maxLevel": 3,
       "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)}


@dataclass
class Track:
    """One face through a clip: ``landmarks`` (T, 68, 2) float32 pixel (x, y), NaN rows where
    no face; ``detected`` (T,) bool, frames whose landmarks come from the detector;
    ``lost_frames`` frames without a face; ``detector_calls``."""

    landmarks: np.ndarray
    detected: np.ndarray
    lost_frames: int
    detector_calls: int


def _detect_fn(detector) -> Callable[[np.ndarray], list[Face]]:
    fn = getattr(detector, "detect", None)
    if callable(fn):
        return fn
    if callable(detector):
        return detector
    raise ConfigError(f"{type(detector).__name__} is not a face detector",
                      hint="pass an object with detect(image) -> list[Face] or such a callable")


def _box_of(points: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def _centre(box) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


class FaceTracker:
    """Streaming tracker: :meth:`update` one frame at a time (see module doc)."""

    def __init__(self, detector, *, detect_every: int = 10, min_score: float = 0.0,
                 fb_threshold: float = 1.0, min_tracked: float = 0.5,
                 keep_tracked: float = 0.03, detect_max_side: int | None = None):
        if detect_every < 1:
            raise ConfigError(f"detect_every={detect_every}", hint="use 1 or more")
        if not 0.0 < min_tracked <= 1.0:
            raise ConfigError(f"min_tracked={min_tracked}", hint="use a fraction in (0, 1]")
        self._detect = _detect_fn(detector)
        self.detect_every, self.min_score = int(detect_every), float(min_score)
        self.fb_threshold, self.min_tracked = float(fb_threshold), float(min_tracked)
        self.keep_tracked, self.detect_max_side = float(keep_tracked), detect_max_side
        self.calls = 0
        self._grey = self._points = self._box = None
        self._since = 0  # frames since the last detection

    def update(self, rgb: np.ndarray) -> tuple[np.ndarray | None, bool]:
        """Landmarks ``(68, 2)`` float32 of this frame (None: no face) and whether they come
        from the detector."""
        grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        tracked = self._track(grey) if self._points is not None else None
        points, detected = tracked, False
        if tracked is None or self._since >= self.detect_every:
            found = self._detect_points(rgb)
            if found is None:
                # A detector miss while tracking holds: keep the track, ask again next frame.
                self._since = self.detect_every
            else:
                self._since = 0
                if tracked is None or self._drift(tracked, found) > self.keep_tracked:
                    points, detected = found, True
        self._since += 1
        self._grey, self._points = grey, points
        if points is not None:
            self._box = _box_of(points)
        return points, detected

    @staticmethod
    def _drift(tracked: np.ndarray, found: np.ndarray) -> float:
        """Mean distance between two landmark sets over the detected face's size."""
        x0, y0, x1, y1 = _box_of(found)
        return float(np.linalg.norm(tracked - found, axis=1).mean()) / max(x1 - x0, y1 - y0, 1.0)

    def _track(self, grey: np.ndarray) -> np.ndarray | None:
        if grey.shape != self._grey.shape:
            return None
        # Lucas-Kanade on a window around the face: the previous box grown by its size (and
        # the pyramid's reach) on every side, so large frames cost a face, not a frame.
        x0, y0, x1, y1 = self._box
        m = max(x1 - x0, y1 - y0) + _LK["winSize"][0] * 2 ** _LK["maxLevel"] / 2
        h, w = grey.shape
        cx0, cy0 = max(int(x0 - m), 0), max(int(y0 - m), 0)
        cx1, cy1 = min(int(x1 + m) + 1, w), min(int(y1 + m) + 1, h)
        a, b = self._grey[cy0:cy1, cx0:cx1], grey[cy0:cy1, cx0:cx1]
        off = np.array([cx0, cy0], np.float32)
        prev = (self._points - off).reshape(-1, 1, 2)
        fwd, st1, _ = cv2.calcOpticalFlowPyrLK(a, b, prev, None, **_LK)
        if fwd is None:
            return None
        back, st2, _ = cv2.calcOpticalFlowPyrLK(b, a, fwd, None, **_LK)
        if back is None:
            return None
        fb = np.linalg.norm((back - prev).reshape(-1, 2), axis=1)
        good = (st1.ravel() == 1) & (st2.ravel() == 1) & (fb <= self.fb_threshold)
        if good.sum() < max(self.min_tracked * N_POINTS, 3):
            return None
        out = fwd.reshape(-1, 2) + off
        if not good.all():
            mat, _ = cv2.estimateAffinePartial2D(self._points[good], out[good], method=cv2.LMEDS)
            if mat is None:
                return None
            out[~good] = self._points[~good] @ mat[:, :2].T + mat[:, 2]
        return out.astype(np.float32)

    def _detect_points(self, rgb: np.ndarray) -> np.ndarray | None:
        self.calls += 1
        image, scale = rgb, 1.0
        side = max(rgb.shape[:2])
        if self.detect_max_side and side > self.detect_max_side:
            scale = self.detect_max_side / side
            image = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        faces = [f for f in self._detect(image) if f.score >= self.min_score
                 and f.landmarks is not None and len(f.landmarks) == N_POINTS]
        if not faces:
            return None
        if self._box is not None:
            ref = _centre(self._box) * scale
            face = min(faces, key=lambda f: float(np.linalg.norm(_centre(f.box) - ref)))
        else:
            face = max(faces, key=lambda f: f.area)
        return (np.asarray(face.landmarks, np.float32) / scale).astype(np.float32)


def track_faces(frames: Iterable[np.ndarray], detector, *, detect_every: int = 10,
                min_score: float = 0.0, fb_threshold: float = 1.0, min_tracked: float = 0.5,
                keep_tracked: float = 0.03, detect_max_side: int | None = None) -> Track:
    """Track one face's landmarks through ``frames`` (RGB ``(H, W, 3)`` uint8); see the module
    doc for the options. Returns a :class:`Track` of length T."""
    tracker = FaceTracker(detector, detect_every=detect_every, min_score=min_score,
                          fb_threshold=fb_threshold, min_tracked=min_tracked,
                          keep_tracked=keep_tracked, detect_max_side=detect_max_side)
    rows, detected = [], []
    for rgb in frames:
        pts, det = tracker.update(rgb)
        rows.append(np.full((N_POINTS, 2), np.nan, np.float32) if pts is None else pts)
        detected.append(det)
    lm = np.stack(rows) if rows else np.zeros((0, N_POINTS, 2), np.float32)
    lost = int(np.isnan(lm[:, 0, 0]).sum())
    return Track(lm, np.asarray(detected, bool), lost, tracker.calls)
