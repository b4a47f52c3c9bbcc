"""Facial motion: dense optical flow per region, and head-normalised landmark trajectories.

Optical flow (:data:`FLOW_METHODS`): between consecutive grey frames ``t`` and ``t + 1``,
OpenCV's Farneback (pyramid 0.5 x 3 levels, 15 px window, 3 iterations, poly_n 5, sigma 1.2)
or DIS (medium preset) gives ``(dx, dy)`` in px/frame per pixel, computed on the crop around
the regions plus a 16 px margin (the background far from the face is skipped); its mean over
each region of frame ``t``'s landmarks is

- :func:`flow_traces` -> ``(T - 1, R, 2)`` over :data:`~fakescope.signals.regions.REGIONS`,
- :func:`grid_flow_traces` -> ``(T - 1, rows * cols, 2)`` over the mid-face grid cells,

NaN where frame ``t`` has no face (NaN landmarks) or a region is empty. Frames are RGB
``(H, W, 3)``, uint8 or float (float frames with a maximum <= 1 are taken as [0, 1]).

Landmark trajectories (:func:`landmark_trajectories`): each frame's 68 points mapped by the
similarity transform (Umeyama 1991 least squares: scale ``c``, rotation ``R``, translation
``t``) that best carries its stable points (eye corners 36, 39, 42, 45 and nose bridge 27-30)
onto those of the first frame with a face. Head translation, scale and roll are removed;
expression and landmark jitter remain. :func:`jitter` is the mean frame-to-frame displacement
of the normalised points (px in the reference frame), the cue of per-frame generators.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import cv2
import numpy as np

from fakescope.errors import ConfigError, DataError
from fakescope.signals.regions import REGIONS, face_grid, region_polygons
from fakescope.signals.traces import cell_means, polygon_means

FLOW_METHODS = ("farneback", "dis")
#: Stable points for head normalisation: eye corners and the nose bridge.
STABLE_POINTS = (36, 39, 42, 45, 27, 28, 29, 30)
#: Flow is computed on the crop around the regions plus this margin (px) on each side.
FLOW_MARGIN = 16


def _grey(frame) -> np.ndarray:
    f = np.asarray(frame)
    if f.ndim != 3 or f.shape[2] != 3:
        raise DataError(f"frames must be RGB (H, W, 3), got shape {f.shape}")
    if f.dtype != np.uint8:
        f = f.astype(np.float32)
        if f.size and f.max() <= 1.0:
            f = f * 255.0
        f = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    return cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)


def _flow_fn(method: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    if method == "farneback":
        return lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return lambda a, b: dis.calc(a, b, None)
    raise ConfigError(f"unknown optical-flow method {method!r}",
                      hint=f"use {', '.join(FLOW_METHODS)}")


def _crop(shapes: np.ndarray, h: int, w: int) -> tuple[int, int, int, int]:
    """Bounds ``(x0, y0, x1, y1)`` of the point set ``(..., 2)`` plus :data:`FLOW_MARGIN`."""
    pts = shapes.reshape(-1, 2)
    x0, y0 = np.floor(pts.min(axis=0)).astype(int) - FLOW_MARGIN
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 1 + FLOW_MARGIN
    return max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)


def _flow_means(frames: Iterable, landmarks, method: str, n_out: int,
                shapes: Callable[[np.ndarray], list],
                means: Callable[[np.ndarray, list], np.ndarray]) -> np.ndarray:
    """Flow between frames ``t``, ``t + 1`` on the crop around ``shapes(landmarks_t)`` (plus a
    margin), reduced by ``means(flow_crop, shapes shifted into the crop)``."""
    flow = _flow_fn(method)
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 3 or lm.shape[1:] != (68, 2):
        raise DataError(f"landmarks must have shape (T, 68, 2), got {lm.shape}")
    out = np.full((max(len(lm) - 1, 0), n_out, 2), np.nan)
    prev = None
    n = 0
    for t, frame in enumerate(frames):
        if t >= len(lm):
            raise DataError(f"more frames than landmark rows ({len(lm)})")
        grey = _grey(frame)
        if prev is not None and not np.isnan(lm[t - 1]).any():
            if grey.shape != prev.shape:
                raise DataError(f"frame {t} has shape {grey.shape}, frame {t - 1} {prev.shape}")
            polys = shapes(lm[t - 1])
            x0, y0, x1, y1 = _crop(np.concatenate([np.reshape(p, (-1, 2)) for p in polys]),
                                   *grey.shape)
            if x1 - x0 >= 8 and y1 - y0 >= 8:
                f = flow(np.ascontiguousarray(prev[y0:y1, x0:x1]),
                         np.ascontiguousarray(grey[y0:y1, x0:x1]))
                off = np.array([x0, y0], np.float32)
                out[t - 1] = means(f, [np.asarray(p) - off for p in polys])
        prev = grey
        n = t + 1
    if n != len(lm):
        raise DataError(f"{n} frames but {len(lm)} landmark rows")
    return out


def flow_traces(frames: Iterable, landmarks, *, method: str = "farneback") -> np.ndarray:
    """Mean optical flow ``(dx, dy)`` px/frame per :data:`REGIONS` region between consecutive
    frames: ``(T - 1, R, 2)`` float64, regions from frame ``t``'s landmarks ``(T, 68, 2)``."""
    def shapes(lm):
        polys = region_polygons(lm)
        return [polys[r] for r in REGIONS]

    return _flow_means(frames, landmarks, method, len(REGIONS), shapes, polygon_means)


def grid_flow_traces(frames: Iterable, landmarks, rows: int = 4, cols: int = 8, *,
                     method: str = "farneback") -> np.ndarray:
    """Mean optical flow per mid-face grid cell: ``(T - 1, rows * cols, 2)`` float64."""
    return _flow_means(frames, landmarks, method, rows * cols,
                       lambda lm: list(face_grid(lm, rows, cols)),
                       lambda f, cells: cell_means(f, np.stack(cells)))


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity ``dst ~ c R src + t`` of point sets ``(N, 2)``: ``(c, R, t)``."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    xs, xd = src - mu_s, dst - mu_d
    u, d, vt = np.linalg.svd(xd.T @ xs / len(src))
    s = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        s[-1] = -1.0
    rot = u @ np.diag(s) @ vt
    var = (xs ** 2).sum() / len(src)
    c = float((d * s).sum() / var) if var > 0 else 1.0
    return c, rot, mu_d - c * rot @ mu_s


def landmark_trajectories(landmarks) -> np.ndarray:
    """Landmarks ``(T, 68, 2)`` in the head frame of the first frame with a face (see module
    doc); frames with NaN landmarks stay NaN."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 3 or lm.shape[1:] != (68, 2):
        raise DataError(f"landmarks must have shape (T, 68, 2), got {lm.shape}")
    out = np.full_like(lm, np.nan)
    ok = ~np.isnan(lm).reshape(len(lm), -1).any(axis=1)
    if not ok.any():
        return out
    idx = list(STABLE_POINTS)
    ref = lm[np.flatnonzero(ok)[0], idx]
    for t in np.flatnonzero(ok):
        c, rot, tr = umeyama(lm[t, idx], ref)
        out[t] = c * lm[t] @ rot.T + tr
    return out


def jitter(landmarks) -> float:
    """Mean frame-to-frame displacement (px) of the head-normalised landmarks ``(T, 68, 2)``,
    over consecutive pairs of frames that both have a face; NaN with fewer than one pair."""
    norm = landmark_trajectories(landmarks)
    step = np.linalg.norm(np.diff(norm, axis=0), axis=2)  # (T-1, 68)
    valid = ~np.isnan(step).any(axis=1)
    return float(step[valid].mean()) if valid.any() else float("nan")


def frame_difference_energy(frames: Iterable, landmarks) -> np.ndarray:
    """Mean squared grey-level change inside the face between consecutive frames, ``(T - 1,)``.

    ``e_t = mean over the convex hull of frame t's 68 landmarks of (g_{t+1} - g_t)^2`` (grey
    levels 0-255); NaN where frame ``t`` has no face. The blind temporal cue: per-frame
    generators flicker, and motion, blinks and speech move it too.
    """
    lms = np.asarray(landmarks, np.float64)
    out, prev = [], None
    for t, frame in enumerate(frames):
        g = _grey(frame).astype(np.float32)
        if prev is not None:
            lm = lms[t - 1]
            if np.isnan(lm).any():
                out.append(np.nan)
            else:
                mask = np.zeros(g.shape, np.uint8)
                hull = cv2.convexHull(np.round(lm).astype(np.int32))
                cv2.fillConvexPoly(mask, hull, 1)
                sel = mask.astype(bool)
                d = g[sel] - prev[sel]
                out.append(float(np.mean(d * d)) if sel.any() else np.nan)
        prev = g
    if len(out) != len(lms) - 1:
        raise DataError(f"{len(out) + 1} frames but {len(lms)} landmark rows")
    return np.asarray(out)
