"""Overlay maps at the input's resolution: per-face pixel maps painted back over the photo.

A face's map is computed on the detector's input (``(s, s)``, the aligned crop resized); it is
resized to the crop (``S x S``) and warped back into the photo by the inverse of the crop's
similarity ``M`` (photo -> crop), inside the face's footprint only (a region of interest, so a
large photo costs memory only where faces are). Colours (JET) are min-max scaled over the
painted pixels of all faces of the photo; elsewhere the photo is unchanged. Each face's box is
outlined and labelled with its P(fake).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def _footprint(inv: np.ndarray, size: int, hw: tuple[int, int]) -> tuple[int, int, int, int]:
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64)
    pts = corners @ inv[:, :2].T + inv[:, 2]
    x0, y0 = np.floor(pts.min(0)).astype(int)
    x1, y1 = np.ceil(pts.max(0)).astype(int)
    h, w = hw
    return max(0, x0), max(0, y0), min(w, x1 + 1), min(h, y1 + 1)


def paint_back(heat: np.ndarray, matrix: np.ndarray, crop_size: int, hw: tuple[int, int],
               ) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | None:
    """A model-input map ``heat (s, s)`` in photo coordinates: ``(roi (x0, y0, x1, y1),
    values (h, w) float32, coverage (h, w) float32 in [0, 1])`` over the face's footprint, or
    None when it falls outside the photo. ``matrix``: photo -> crop ``(2, 3)``."""
    inv = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    x0, y0, x1, y1 = _footprint(inv, crop_size, hw)
    if x1 <= x0 or y1 <= y0:
        return None
    shift = inv.copy()
    shift[:, 2] -= (x0, y0)
    h = cv2.resize(np.asarray(heat, np.float32), (crop_size, crop_size),
                   interpolation=cv2.INTER_LINEAR)
    size = (x1 - x0, y1 - y0)
    values = cv2.warpAffine(h, shift, size, flags=cv2.INTER_LINEAR, borderValue=0)
    cover = cv2.warpAffine(np.ones((crop_size, crop_size), np.float32), shift, size,
                           flags=cv2.INTER_LINEAR, borderValue=0)
    return (x0, y0, x1, y1), values, cover


def compose(image: np.ndarray, parts: list, *, boxes=(), labels=(), alpha: float = 0.5,
            ) -> np.ndarray:
    """The photo ``(H, W, 3)`` uint8 with ``parts`` (from :func:`paint_back`) blended in JET
    colours and ``boxes`` ``(x0, y0, x1, y1)`` outlined with ``labels``."""
    out = np.array(image, dtype=np.uint8, copy=True)
    parts = [p for p in parts if p is not None]
    if parts:
        vals = np.concatenate([v[c > 0.5] for _, v, c in parts] or [np.zeros(1, np.float32)])
        lo, hi = (float(vals.min()), float(vals.max())) if vals.size else (0.0, 0.0)
        span = hi - lo
        for (x0, y0, x1, y1), v, c in parts:
            h8 = (np.clip((v - lo) / span, 0, 1) * 255).astype(np.uint8) if span > 0 else \
                np.zeros(v.shape, np.uint8)
            colour = cv2.applyColorMap(h8, cv2.COLORMAP_JET)[..., ::-1].astype(np.float32)
            a = (alpha * np.clip(c, 0, 1))[..., None]
            roi = out[y0:y1, x0:x1].astype(np.float32)
            out[y0:y1, x0:x1] = np.clip(roi * (1 - a) + colour * a, 0, 255).round().astype(
                np.uint8)
    thick = max(1, round(max(out.shape[:2]) / 400))
    for box, label in zip(boxes, list(labels) + [""] * (len(boxes) - len(labels)), strict=False):
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 255, 255), thick)
        if label:
            cv2.putText(out, label, (x0, max(0, y0 - 4 * thick)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.4 * thick, (255, 255, 255), thick, cv2.LINE_AA)
    return out


def unique_path(folder: Path, stem: str, suffix: str, used: set[str]) -> Path:
    """``folder/<stem><suffix>``, with ``-2``, ``-3``... appended when a file of this run already
    took the name (two photos called ``a.png`` in different folders)."""
    name, n = f"{stem}{suffix}", 1
    while name in used:
        n += 1
        name = f"{stem}-{n}{suffix}"
    used.add(name)
    return folder / name
