"""Facial regions of interest from iBUG-68 landmarks: named skin regions and the mid-face grid.

Landmarks are ``(68, 2)`` float pixel ``(x, y)`` (``x`` right, ``y`` down) in iBUG-68 order:
0-16 jaw, 17-26 brows, 27-30 nose bridge, 31-35 nose base, 36-41 / 42-47 eyes, 48-67 mouth.
"left" and "right" are the image's (``left_cheek`` is on the side of jaw points 1-5, the
subject's right cheek). Every shape is built from landmarks only, so it follows pose and scale.

Named regions (:data:`REGIONS`), polygons ``(K, 2)`` float32:

- ``forehead``: a band that follows the brow line (points 17-26) upwards, between the brows'
  outer ends. With ``d = |brow centre - nose tip (30)|`` and ``u`` the unit vector from the nose
  tip to the brow centre, the band runs from ``0.12 d`` to ``0.47 d`` above the brow points
  (height ``0.35 d``; the gap keeps brow hair out).
- ``left_cheek`` / ``right_cheek``: lower eyelid (41, 40 / 47, 46), inner eye corner (39 / 42),
  nose side (31 / 35), mouth corner (48 / 54) and jaw (5-1 / 11-15), shrunk by 20 % towards
  the polygon's centroid so the eyelid, the lips and the jaw edge (background) stay out.
- ``nose``: the bridge top (27) widened to +-0.2 of the nostril width, then the nose base 31-35.
- ``chin``: lower lip (55-59) to jaw 6-10, shrunk by 15 % towards its centroid.

Mid-face grid (FakeCatcher's PPG-map region): the quadrilateral with corners

- top-left ``p36 + 0.2 (p48 - p36)`` (below the left eye's outer corner, on the cheek),
- top-right ``p45 + 0.2 (p54 - p45)``,
- bottom-right ``p54 + 0.2 (p54 - p48)`` (beside the right mouth corner),
- bottom-left ``p48 + 0.2 (p48 - p54)``,

i.e. from under the eyes down to the mouth-corner line (which crosses the upper lip), from cheek
to cheek. It is split bilinearly into ``rows x cols`` cells, row-major from the top-left; each
cell is a quad ``(4, 2)`` (top-left, top-right, bottom-right, bottom-left).

Masks are filled with ``cv2.fillPoly`` at 1/16 px precision (pixel centres at integer
coordinates) and clipped to the image. Region masks are filled independently; grid cells are
painted into one label image, so grid masks are disjoint and their union is the quad.
"""

from __future__ import annotations

import cv2
import numpy as np

from fakescope.errors import DataError

REGIONS = ("forehead", "left_cheek", "right_cheek", "nose", "chin")

_SHIFT = 4  # fillPoly fixed-point bits: 1/16 px
_FOREHEAD = (0.12, 0.47)  # band edges above the brows, as fractions of brow-to-nose-tip distance
_CHEEK_SHRINK = 0.8
_CHIN_SHRINK = 0.85
_GRID_IN = 0.2  # quad corners: fraction towards the mouth corner / beyond it


def _check(landmarks) -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2):
        raise DataError(f"landmarks must have shape (68, 2), got {lm.shape}",
                        hint="pass one frame's iBUG-68 points as pixel (x, y)")
    return lm


def _shrink(poly: np.ndarray, factor: float) -> np.ndarray:
    c = poly.mean(axis=0)
    return c + factor * (poly - c)


def region_polygons(landmarks) -> dict[str, np.ndarray]:
    """The :data:`REGIONS` polygons ``{name: (K, 2) float32}`` of one face (see module doc)."""
    p = _check(landmarks)
    brows = p[17:27]
    brow_c = brows.mean(axis=0)
    up = brow_c - p[30]
    d = np.linalg.norm(up)
    u = up / d if d > 0 else np.array([0.0, -1.0])
    lo, hi = _FOREHEAD
    forehead = np.concatenate([brows + lo * d * u, (brows + hi * d * u)[::-1]])
    left = _shrink(p[[41, 40, 39, 31, 48, 5, 4, 3, 2, 1]], _CHEEK_SHRINK)
    right = _shrink(p[[46, 47, 42, 35, 54, 11, 12, 13, 14, 15]], _CHEEK_SHRINK)
    w = 0.2 * (p[35] - p[31])
    nose = np.concatenate([[p[27] - w], p[31:36], [p[27] + w]])
    chin = _shrink(p[[6, 7, 8, 9, 10, 55, 56, 57, 58, 59]], _CHIN_SHRINK)
    polys = (forehead, left, right, nose, chin)
    return {name: poly.astype(np.float32) for name, poly in zip(REGIONS, polys, strict=True)}


def midface_quad(landmarks) -> np.ndarray:
    """The mid-face quadrilateral ``(4, 2)`` float64: top-left, top-right, bottom-right,
    bottom-left (see module doc)."""
    p = _check(landmarks)
    a = _GRID_IN
    return np.stack([p[36] + a * (p[48] - p[36]), p[45] + a * (p[54] - p[45]),
                     p[54] + a * (p[54] - p[48]), p[48] + a * (p[48] - p[54])])


def face_grid(landmarks, rows: int = 4, cols: int = 8) -> np.ndarray:
    """The mid-face grid: ``(rows * cols, 4, 2)`` float32 cell quads, row-major from the top-left,
    each (top-left, top-right, bottom-right, bottom-left), from a bilinear split of
    :func:`midface_quad`."""
    if rows < 1 or cols < 1:
        raise DataError(f"grid must have at least one row and column, got {rows} x {cols}")
    tl, tr, br, bl = midface_quad(landmarks)
    v = np.linspace(0.0, 1.0, rows + 1)[:, None, None]
    s = np.linspace(0.0, 1.0, cols + 1)[None, :, None]
    top = tl + s * (tr - tl)  # (1, cols+1, 2)
    bottom = bl + s * (br - bl)
    nodes = top + v * (bottom - top)  # (rows+1, cols+1, 2)
    cells = np.stack([nodes[:-1, :-1], nodes[:-1, 1:], nodes[1:, 1:], nodes[1:, :-1]], axis=2)
    return cells.reshape(rows * cols, 4, 2).astype(np.float32)


def fixed_point(poly: np.ndarray, offset=(0.0, 0.0)) -> np.ndarray:
    """Polygon ``(K, 2)`` minus ``offset`` as int32 fixed point for ``cv2.fillPoly(shift=4)``."""
    q = (np.asarray(poly, np.float64) - np.asarray(offset, np.float64)) * (1 << _SHIFT)
    return np.round(q).astype(np.int32).reshape(-1, 1, 2)


def fill(mask: np.ndarray, poly: np.ndarray, value: int = 1, offset=(0.0, 0.0)) -> None:
    """Fill ``poly`` (pixel ``(x, y)``, shifted by ``-offset``) into the uint8/int32 ``mask``."""
    cv2.fillPoly(mask, [fixed_point(poly, offset)], int(value), lineType=cv2.LINE_8,
                 shift=_SHIFT)


def _shape(shape) -> tuple[int, int]:
    h, w = (int(n) for n in tuple(shape)[:2])
    return h, w


def region_masks(landmarks, shape) -> np.ndarray:
    """Boolean masks ``(R, H, W)`` of :data:`REGIONS` (in that order) for an image of
    ``shape = (H, W)``."""
    h, w = _shape(shape)
    polys = region_polygons(landmarks)
    out = np.zeros((len(REGIONS), h, w), dtype=bool)
    buf = np.zeros((h, w), dtype=np.uint8)
    for r, name in enumerate(REGIONS):
        buf[:] = 0
        fill(buf, polys[name])
        out[r] = buf > 0
    return out


def label_cells(cells: np.ndarray, shape, offset=(0.0, 0.0)) -> np.ndarray:
    """An int32 label image ``(H, W)``: ``k + 1`` where cell ``k`` of ``cells`` ``(N, 4, 2)``
    covers the pixel (later cells win on shared edges), 0 elsewhere."""
    h, w = _shape(shape)
    labels = np.zeros((h, w), dtype=np.int32)
    for k, quad in enumerate(cells):
        fill(labels, quad, k + 1, offset)
    return labels


def grid_masks(landmarks, shape, rows: int = 4, cols: int = 8) -> np.ndarray:
    """Disjoint boolean masks ``(rows * cols, H, W)`` of the :func:`face_grid` cells."""
    labels = label_cells(face_grid(landmarks, rows, cols), shape)
    return labels[None] == np.arange(1, rows * cols + 1)[:, None, None]
