"""Small drawing helpers on float32 canvases: soft polygons, curves, noise textures, blending.

Canvases are float32 ``(S, S)`` alpha maps in [0, 1] or ``(S, S, 3)`` RGB images in [0, 1].
Polygons are drawn anti-aliased with 1/16-pixel precision (``cv2.fillPoly(..., shift=4)``).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

_SHIFT = 4
_ONE = 1 << _SHIFT


def _fix(pts: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(pts, np.float64) * _ONE).astype(np.int32).reshape(-1, 1, 2)


@lru_cache(maxsize=16)
def _cr_basis(n: int) -> np.ndarray:
    t = np.linspace(0, 1, n, endpoint=False)
    return 0.5 * np.stack([-t ** 3 + 2 * t ** 2 - t, 3 * t ** 3 - 5 * t ** 2 + 2,
                           -3 * t ** 3 + 4 * t ** 2 + t, t ** 3 - t ** 2], 1)


def catmull_rom(pts: np.ndarray, n: int = 6, *, closed: bool = False) -> np.ndarray:
    """Smooth curve through ``pts`` ``(K, 2)``: ``n`` samples per segment, ``(M, 2)``."""
    p = np.asarray(pts, np.float64)
    if closed:
        ext = np.concatenate([p[-1:], p, p[:2]])
        segs = len(p)
    else:
        ext = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
        segs = len(p) - 1
    idx = np.arange(segs)[:, None] + np.arange(4)[None, :]
    out = np.einsum("nk,skd->snd", _cr_basis(n), ext[idx]).reshape(-1, 2)
    return out if closed else np.concatenate([out, p[-1:]])


def poly_alpha(size: int, *polys: np.ndarray, blur: float = 0.0) -> np.ndarray:
    """Anti-aliased coverage ``(S, S)`` of the union of polygons, optionally Gaussian-blurred."""
    m = np.zeros((size, size), np.uint8)
    cv2.fillPoly(m, [_fix(p) for p in polys], 255, cv2.LINE_AA, _SHIFT)
    a = m.astype(np.float32) * (1 / 255)
    return gaussian(a, blur) if blur > 0 else a


def line_alpha(size: int, pts: np.ndarray, thickness: float, *, closed: bool = False,
               blur: float = 0.0) -> np.ndarray:
    """Anti-aliased coverage of a polyline of ``thickness`` pixels."""
    m = np.zeros((size, size), np.uint8)
    th = max(1, int(round(thickness)))
    cv2.polylines(m, [_fix(pts)], closed, 255, th, cv2.LINE_AA, _SHIFT)
    a = m.astype(np.float32) * (1 / 255)
    if thickness < 1:
        a *= thickness
    return gaussian(a, blur) if blur > 0 else a


def ellipse_alpha(size: int, centre, axes, angle: float = 0.0, *, blur: float = 0.0) -> np.ndarray:
    """Anti-aliased filled ellipse (``axes`` = semi-axes in pixels, ``angle`` in degrees)."""
    m = np.zeros((size, size), np.uint8)
    c = (int(round(centre[0] * _ONE)), int(round(centre[1] * _ONE)))
    ax = (max(1, int(round(axes[0] * _ONE))), max(1, int(round(axes[1] * _ONE))))
    cv2.ellipse(m, c, ax, float(angle), 0, 360, 255, -1, cv2.LINE_AA, _SHIFT)
    a = m.astype(np.float32) * (1 / 255)
    return gaussian(a, blur) if blur > 0 else a


def gaussian(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels (reflect border)."""
    if sigma <= 0:
        return a
    k = int(2 * np.ceil(2.5 * sigma) + 1)
    return cv2.GaussianBlur(a, (k, k), sigma)


def composite(img: np.ndarray, colour, alpha: np.ndarray) -> None:
    """In place: ``img = img + alpha * (colour - img)``; colour is RGB ``(3,)`` or an image.

    Only the bounding box of ``alpha > 0`` is touched (most layers are small)."""
    a = alpha if alpha.dtype == np.float32 else alpha.astype(np.float32)
    x, y, w, h = cv2.boundingRect((a > 0).view(np.uint8))
    if w == 0 or h == 0:
        return
    sub = img[y:y + h, x:x + w]
    c = np.asarray(colour, np.float32)
    if c.ndim == 3:
        c = c[y:y + h, x:x + w]
    sub += a[y:y + h, x:x + w, None] * (c - sub)


@lru_cache(maxsize=8)
def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(xx, yy)``, each ``(S, S)`` float32 (read-only)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    xx.setflags(write=False)
    yy.setflags(write=False)
    return xx, yy


def smooth_noise(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Zero-mean, unit-std Gaussian noise ``(S, S)`` blurred by ``sigma`` pixels."""
    n = rng.standard_normal((size, size), dtype=np.float32)
    if sigma > 0:
        n = gaussian(n, sigma)
        n /= n.std() + 1e-6
    return n


def lowfreq_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth noise ``(S, S)`` in about [-1, 1]: a ``cells x cells`` grid upsampled bicubically."""
    small = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)


@lru_cache(maxsize=32)
def _line_kernel(length: int, angle_deg: int) -> np.ndarray:
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    dx, dy = np.cos(np.deg2rad(angle_deg)), np.sin(np.deg2rad(angle_deg))
    cv2.line(k, (int(round(c - dx * c)), int(round(c - dy * c))),
             (int(round(c + dx * c)), int(round(c + dy * c))), 1.0, 1, cv2.LINE_AA)
    return k / k.sum()


def strand_noise(rng: np.random.Generator, size: int, length: int, angle_deg: float) -> np.ndarray:
    """Hair-like texture ``(S, S)``, unit std: noise smeared along ``angle_deg``."""
    n = rng.standard_normal((size, size), dtype=np.float32)
    length = max(3, int(length) | 1)
    t = cv2.filter2D(n, -1, _line_kernel(length, int(round(angle_deg)) % 180))
    return t / (t.std() + 1e-6)
