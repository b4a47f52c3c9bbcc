"""Shared operations of the generators: input checks, landmark masks, feathering, alignment,
piecewise-affine warps, colour transfer, the low-level traces (resolution loss, recompression,
sharpening, chroma loss) and alpha blending.

Images are RGB uint8 ``(H, W, 3)``; landmarks float ``(68, 2)`` pixel ``(x, y)`` in iBUG order;
masks float32 ``(H, W)`` in [0, 1]. Blending is ``out = img + m * (fake - img)``, so pixels with
``m == 0`` are returned unchanged bit for bit.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

from fakescope.data.synthfaces.camera import jpeg
from fakescope.data.synthfaces.geometry import MIRROR
from fakescope.errors import DataError


def check_face(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate an aligned face crop and its landmarks; returns (uint8 image, float64 (68, 2))."""
    img = np.asarray(image)
    lm = np.asarray(landmarks, np.float64)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise DataError(f"expected an RGB uint8 image (H, W, 3), got {img.dtype} {img.shape}",
                        hint="load images with fakescope.data.images.load_image")
    if lm.shape != (68, 2) or not np.isfinite(lm).all():
        raise DataError(f"expected 68 finite (x, y) landmarks, got shape {lm.shape}",
                        hint="use 68-point iBUG landmarks (dlib shape_predictor_68)")
    if min(img.shape[:2]) < 16:
        raise DataError(f"face crop too small: {img.shape[:2]}", hint="use crops of 16 px or more")
    return img, lm


def face_size(lm: np.ndarray) -> float:
    """Face scale in pixels: jaw width (points 0 -> 16), at least 4."""
    return max(4.0, float(np.linalg.norm(lm[16] - lm[0])))


def hull_mask(shape: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    """Filled convex hull of ``pts`` as float32 ``(H, W)`` in {0, 1}."""
    m = np.zeros(shape[:2], np.uint8)
    hull = cv2.convexHull(np.round(pts * 16).astype(np.int32))
    cv2.fillConvexPoly(m, hull, 1, cv2.LINE_8, 4)
    return m.astype(np.float32)


def face_points(lm: np.ndarray, forehead: float = 0.0) -> np.ndarray:
    """Jaw + brows, brows lifted by ``forehead`` x face size (to include the forehead)."""
    up = np.array([0.0, -forehead * face_size(lm)])
    return np.concatenate([lm[0:17], lm[17:27] + up])


def morph_mask(mask: np.ndarray, pixels: float) -> np.ndarray:
    """Dilate (``pixels > 0``) or erode (``< 0``) a {0, 1} mask by an elliptic kernel."""
    r = int(round(abs(pixels)))
    if r == 0:
        return mask
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    op = cv2.dilate if pixels > 0 else cv2.erode
    return op(mask, k)


def feather(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-feathered mask; values below 1/255 are zeroed so 'unchanged' stays exact."""
    if sigma > 0:
        k = int(2 * np.ceil(3 * sigma) + 1)
        mask = cv2.GaussianBlur(mask, (k, k), sigma)
    mask = mask.astype(np.float32)
    mask[mask < 1 / 255] = 0
    return np.clip(mask, 0, 1)


def resolution_loss(img: np.ndarray, factor: float) -> np.ndarray:
    """``img`` (H, W, 3) uint8 at ``factor`` x its resolution and upscaled back (area down,
    bilinear up): the softer, noise-free texture of a copy that was downscaled (SBI's source
    transforms) before it was blended into the full-resolution frame."""
    h, w = img.shape[:2]
    if factor >= 1:
        return img
    small = cv2.resize(img, (max(1, round(w * factor)), max(1, round(h * factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def recompress(img: np.ndarray, quality: float) -> np.ndarray:
    """``img`` (H, W, 3) uint8 after a JPEG round trip at ``quality`` (1-100): the 8 x 8 blocking
    and lost detail of a face taken from a more strongly compressed source. Warped afterwards,
    its block grid no longer lines up with the frame's own JPEG grid (a double-compression
    trace)."""
    return jpeg(img, int(round(quality)))


def sharpen(img: np.ndarray, amount: float, sigma: float) -> np.ndarray:
    """Unsharp mask ``img + amount * (img - G_sigma * img)`` of a float or uint8 (H, W, 3) image,
    as float32: boosted fine detail and light/dark halos along edges."""
    x = img.astype(np.float32)
    return x + amount * (x - cv2.GaussianBlur(x, (0, 0), sigma))


def chroma_loss(img: np.ndarray, factor: float) -> np.ndarray:
    """``img`` (H, W, 3) uint8 with its two chroma channels (YCrCb) at ``factor`` x the
    resolution (area down, bilinear up) and luma untouched: colour bleeding across edges and
    no chroma noise, as in a face assembled from 4:2:0 video frames."""
    if factor >= 1:
        return img
    h, w = img.shape[:2]
    ycc = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb)
    small = cv2.resize(ycc[..., 1:], (max(1, round(w * factor)), max(1, round(h * factor))),
                       interpolation=cv2.INTER_AREA)
    ycc[..., 1:] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def grey_band(img: np.ndarray, s_fine: float, s_coarse: float) -> np.ndarray:
    """Band ``G_s_fine * g - G_s_coarse * g`` of the grey image ``g`` (channel mean of an
    (H, W, 3) image, or the (H, W) image itself) as float32 (H, W); ``s_fine = 0`` starts at
    the pixel scale (``g - G_s_coarse * g``)."""
    g = (img.mean(2) if img.ndim == 3 else img).astype(np.float32)
    hi = g if s_fine <= 0 else cv2.GaussianBlur(g, (0, 0), s_fine)
    return hi - cv2.GaussianBlur(g, (0, 0), s_coarse)


def blend(img: np.ndarray, fake: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``round(img + mask * (fake - img))`` as uint8; exact copy where ``mask == 0``."""
    a = img.astype(np.float32)
    out = a + mask[..., None] * (fake.astype(np.float32) - a)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def changed_mask(before: np.ndarray, after: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Zero the mask where the uint8 images are identical (rounding left them unchanged)."""
    same = (before == after).all(axis=2)
    out = mask.copy()
    out[same] = 0
    return out


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity ``(2, 3)`` mapping points ``src`` onto ``dst`` (Umeyama 1991)."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    s = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        s[1, 1] = -1
    r = u @ s @ vt
    var = (a ** 2).sum() / len(src)
    c = float(np.trace(np.diag(d) @ s) / var) if var > 0 else 1.0
    t = md - c * r @ ms
    return np.concatenate([c * r, t[:, None]], 1)


def align_similarity(src_img: np.ndarray, src_lm: np.ndarray, dst_lm: np.ndarray,
                     shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``src_img`` by the similarity that maps ``src_lm`` onto ``dst_lm`` (least squares).

    Returns the warped image ``(H, W, 3)`` and the warped landmarks ``(68, 2)``.
    """
    m = similarity(src_lm[17:], dst_lm[17:])
    h, w = shape[:2]
    out = cv2.warpAffine(src_img, m, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT101)
    lm = src_lm @ m[:, :2].T + m[:, 2]
    return out, lm


def _anchors(h: int, w: int) -> np.ndarray:
    xs = [0, w / 2, w - 1]
    ys = [0, h / 2, h - 1]
    return np.array([(x, y) for x in xs for y in ys if (x, y) != (w / 2, h / 2)], np.float64)


def piecewise_affine(img: np.ndarray, src_lm: np.ndarray, dst_lm: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``img`` so that points ``src_lm`` move to ``dst_lm`` (triangles over the landmarks +
    8 image-border anchors; per triangle the affine map dst -> src; bilinear resampling).

    Returns (warped uint8 image, displacement magnitude ``(H, W)`` in pixels). Where the
    displacement is zero the output equals the input exactly.
    """
    h, w = img.shape[:2]
    c = src_lm[27:36].mean(0)
    ring = np.concatenate([c + (src_lm[0:17] - c) * 1.3, c + (src_lm[17:27] - c) * 1.6])
    anc = np.concatenate([_anchors(h, w), ring])
    src = np.concatenate([src_lm, anc])
    dst = np.concatenate([dst_lm, anc])
    tri = Delaunay(dst).simplices
    ids = np.full((h, w), -1, np.int32)
    for t, (a, b, c) in enumerate(tri):
        cv2.fillConvexPoly(ids, np.round(dst[[a, b, c]] * 16).astype(np.int32), int(t),
                           cv2.LINE_8, 4)
    ones = np.ones((len(tri), 1, 3))
    d_h = np.concatenate([dst[tri].transpose(0, 2, 1), ones], 1)  # (T, 3, 3) columns = vertices
    s_h = src[tri].transpose(0, 2, 1)  # (T, 2, 3)
    det = np.abs(np.linalg.det(d_h))
    d_h[det < 1e-9] = np.eye(3)  # degenerate triangles (never rasterised) -> any matrix
    mats = np.concatenate([s_h @ np.linalg.inv(d_h), [[[1, 0, 0], [0, 1, 0]]]], 0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    m = mats[ids]  # -1 -> identity
    mx = m[..., 0, 0] * xx + m[..., 0, 1] * yy + m[..., 0, 2]
    my = m[..., 1, 0] * xx + m[..., 1, 1] * yy + m[..., 1, 2]
    disp = np.hypot(mx - xx, my - yy)
    still = disp < 1e-3
    mx[still] = xx[still]
    my[still] = yy[still]
    disp[still] = 0
    out = cv2.remap(img, mx.astype(np.float32), my.astype(np.float32), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REFLECT101)
    out[still] = img[still]
    return out, disp.astype(np.float32)


# RGB -> decorrelated opponent space (YCbCr-like, orthonormal rows), and back
_OPP = np.array([[1, 1, 1], [1, -1, 0], [1, 1, -2]], np.float32) / np.sqrt(
    np.array([[3.0], [2.0], [6.0]], np.float32))


def colour_transfer(src: np.ndarray, ref: np.ndarray, mask: np.ndarray,
                    strength: float = 1.0) -> np.ndarray:
    """Reinhard-style transfer in a decorrelated opponent colour space: match ``src``'s mean and
    std inside ``mask`` to ``ref``'s, channel by channel.

    ``strength`` in [0, 1] interpolates between no change and full matching. Returns uint8.
    """
    sel = mask > 0.5
    if sel.sum() < 8:
        return src
    s = src.astype(np.float32) @ _OPP.T
    r = ref.astype(np.float32)[sel] @ _OPP.T
    ss = s[sel]
    ms, sd_s = ss.mean(0), ss.std(0) + 1e-3
    mr, sd_r = r.mean(0), r.std(0) + 1e-3
    out = (s - ms) * (sd_r / sd_s) + mr
    out = s + strength * (out - s)
    return np.clip(np.rint(out @ _OPP), 0, 255).astype(np.uint8)


def mirror_face(img: np.ndarray, lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontally flipped face with landmarks re-indexed (a donor when none is given)."""
    w = img.shape[1]
    flipped = img[:, ::-1].copy()
    out = lm[MIRROR].copy()
    out[:, 0] = (w - 1) - out[:, 0]
    return flipped, out


def donor_or_mirror(img, lm, donor):
    """The donor ``(image, landmarks)`` if given, else the mirrored input (see mirror_face)."""
    if donor is None:
        return mirror_face(img, lm)
    dimg, dlm = check_face(*donor)
    if dimg.shape != img.shape:
        scale = img.shape[1] / dimg.shape[1], img.shape[0] / dimg.shape[0]
        dimg = cv2.resize(dimg, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_AREA)
        dlm = dlm * np.array(scale)
    return dimg, dlm


def uniform(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    """A draw from ``U(lo, hi)``."""
    return float(rng.uniform(*lo_hi))
