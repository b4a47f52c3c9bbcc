"""Colour traces: the mean RGB of each facial region (or mid-face grid cell) in every frame.

``frames``: an iterable of RGB images ``(H, W, 3)`` (uint8, or float in any unit: traces keep
the frames' unit); ``landmarks``: ``(T, 68, 2)`` pixel ``(x, y)``, a row of NaN where no face was
found (its output row is NaN). Outputs are float64:

- :func:`region_traces` -> ``(T, R, 3)`` over :data:`~fakescope.signals.regions.REGIONS`,
- :func:`grid_traces` -> ``(T, rows * cols, 3)`` over the mid-face grid cells,

``trace[t, r] = mean of frame_t[p] over pixels p in region r (and in skin_t, if given)``; a region
with no pixel (off the image, or no skin in it) is NaN. Only each polygon's bounding box is
rasterised, so 300 frames of 256 px take a fraction of a second.

:func:`interpolate_gaps` fills short NaN runs (face lost for a few frames) linearly.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from fakescope.errors import DataError
from fakescope.signals.regions import REGIONS, face_grid, fill, label_cells, region_polygons


def _bbox(poly: np.ndarray, h: int, w: int) -> tuple[int, int, int, int]:
    """Pixel bounds ``(x0, y0, x1, y1)`` (exclusive ends) of ``poly`` clipped to ``(h, w)``."""
    lo = np.floor(poly.min(axis=0)).astype(int)
    hi = np.ceil(poly.max(axis=0)).astype(int) + 1
    return max(lo[0], 0), max(lo[1], 0), min(hi[0], w), min(hi[1], h)


def polygon_means(image: np.ndarray, polygons, mask: np.ndarray | None = None) -> np.ndarray:
    """Mean of ``image`` ``(H, W, C)`` inside each polygon ``(K, 2)``: ``(N, C)`` float64, NaN
    for a polygon with no pixel (in ``mask`` ``(H, W)``, if given)."""
    img = np.asarray(image)
    h, w = img.shape[:2]
    out = np.full((len(polygons), img.shape[2]), np.nan)
    for i, poly in enumerate(polygons):
        x0, y0, x1, y1 = _bbox(np.asarray(poly), h, w)
        if x1 <= x0 or y1 <= y0:
            continue
        local = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
        fill(local, poly, 1, (x0, y0))
        sel = local.astype(bool)
        if mask is not None:
            sel &= np.asarray(mask[y0:y1, x0:x1], dtype=bool)
        if sel.any():
            out[i] = img[y0:y1, x0:x1][sel].mean(axis=0, dtype=np.float64)
    return out


def cell_means(image: np.ndarray, cells: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Mean of ``image`` ``(H, W, C)`` in each of the disjoint ``cells`` ``(N, 4, 2)`` (painted as
    in :func:`~fakescope.signals.regions.grid_masks`): ``(N, C)`` float64, NaN where empty."""
    img = np.asarray(image)
    h, w = img.shape[:2]
    n = len(cells)
    out = np.full((n, img.shape[2]), np.nan)
    x0, y0, x1, y1 = _bbox(np.asarray(cells).reshape(-1, 2), h, w)
    if x1 <= x0 or y1 <= y0:
        return out
    labels = label_cells(cells, (y1 - y0, x1 - x0), (x0, y0))
    if mask is not None:
        labels[~np.asarray(mask[y0:y1, x0:x1], dtype=bool)] = 0
    flat = labels.ravel()
    counts = np.bincount(flat, minlength=n + 1)[1:]
    crop = img[y0:y1, x0:x1].reshape(-1, img.shape[2])
    sums = np.stack([np.bincount(flat, weights=crop[:, c], minlength=n + 1)[1:]
                     for c in range(img.shape[2])], axis=1)
    ok = counts > 0
    out[ok] = sums[ok] / counts[ok, None]
    return out


def _landmarks(landmarks) -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 3 or lm.shape[1:] != (68, 2):
        raise DataError(f"landmarks must have shape (T, 68, 2), got {lm.shape}")
    return lm


def _frames(frames: Iterable, lm: np.ndarray, skin):
    """Yield ``(t, frame, skin_t)``; check frame shapes and that counts match."""
    skins = None if skin is None else iter(skin)
    t = -1
    for t, frame in enumerate(frames):
        if t >= len(lm):
            raise DataError(f"more frames than landmark rows ({len(lm)})")
        f = np.asarray(frame)
        if f.ndim != 3 or f.shape[2] != 3:
            raise DataError(f"frame {t} must be RGB (H, W, 3), got shape {f.shape}")
        s = None if skins is None else next(skins, None)
        if skins is not None and s is None:
            raise DataError(f"skin masks end before frame {t}")
        if s is not None and np.shape(s)[:2] != f.shape[:2]:
            raise DataError(f"skin mask {t} has shape {np.shape(s)}, frame has {f.shape[:2]}")
        yield t, f, s
    if t + 1 != len(lm):
        raise DataError(f"{t + 1} frames but {len(lm)} landmark rows")


def region_traces(frames: Iterable, landmarks, *, skin=None) -> np.ndarray:
    """Mean RGB per :data:`REGIONS` region per frame: ``(T, R, 3)`` float64 (see module doc);
    ``skin`` ``(T, H, W)`` bool/uint8 (nonzero = skin) restricts the pixels."""
    lm = _landmarks(landmarks)
    out = np.full((len(lm), len(REGIONS), 3), np.nan)
    for t, frame, s in _frames(frames, lm, skin):
        if np.isnan(lm[t]).any():
            continue
        polys = region_polygons(lm[t])
        out[t] = polygon_means(frame, [polys[r] for r in REGIONS], s)
    return out


def grid_traces(frames: Iterable, landmarks, rows: int = 4, cols: int = 8, *,
                skin=None) -> np.ndarray:
    """Mean RGB per mid-face grid cell per frame: ``(T, rows * cols, 3)`` float64."""
    lm = _landmarks(landmarks)
    out = np.full((len(lm), rows * cols, 3), np.nan)
    for t, frame, s in _frames(frames, lm, skin):
        if np.isnan(lm[t]).any():
            continue
        out[t] = cell_means(frame, face_grid(lm[t], rows, cols), s)
    return out


def interpolate_gaps(x, max_gap: int, *, edges: str = "nan") -> np.ndarray:
    """``x`` ``(T, ...)`` with every NaN run along axis 0 of at most ``max_gap`` samples filled
    by linear interpolation between its neighbours; longer runs stay NaN. A run touching the
    start or end has one neighbour: ``edges="nan"`` keeps it NaN, ``"hold"`` repeats the nearest
    value (again only up to ``max_gap``). Returns a new float64 array."""
    if edges not in ("nan", "hold"):
        raise ValueError(f"edges must be 'nan' or 'hold', got {edges!r}")
    a = np.array(x, dtype=np.float64)
    if a.ndim == 0 or a.shape[0] == 0:
        return a
    n = a.shape[0]
    flat = a.reshape(n, -1)
    idx = np.arange(n)
    for j in range(flat.shape[1]):
        col = flat[:, j]
        bad = np.isnan(col)
        if not bad.any() or bad.all():
            continue
        good = ~bad
        filled = np.interp(idx, idx[good], col[good])
        edge = np.diff(np.concatenate([[0], bad.view(np.int8), [0]]))
        for s, e in zip(np.flatnonzero(edge == 1), np.flatnonzero(edge == -1), strict=True):
            touches = s == 0 or e == n
            if e - s <= max_gap and not (touches and edges == "nan"):
                col[s:e] = filled[s:e]
    return flat.reshape(a.shape)


#: Regions whose mean carries the pulse: forehead and cheeks. The nose (specular highlight,
#: nostril shading that changes with yaw) and the chin (speech) add motion more than pulse; on
#: SynthFaces studio clips dropping them took dark-skin POS errors from 4-63 bpm to 0.1-2 bpm
#: on three of four clips (docs/synthfaces-video.md).
PULSE_ROI = ("forehead", "left_cheek", "right_cheek")


def roi_trace(traces: np.ndarray, regions: tuple[str, ...] = PULSE_ROI) -> np.ndarray:
    """Mean RGB trace ``(T, 3)`` of the named regions of ``traces`` ``(T, R, 3)`` (REGIONS
    order); a frame where every named region is NaN stays NaN."""
    idx = [REGIONS.index(r) for r in regions]
    x = np.asarray(traces, np.float64)[:, idx]
    out = np.full((x.shape[0], 3), np.nan)
    ok = ~np.isnan(x).all(axis=(1, 2))
    out[ok] = np.nanmean(x[ok], axis=1)
    return out
