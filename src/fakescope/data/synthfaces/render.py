"""The procedural face renderer: identity + view -> RGB image, 68 landmarks, face mask.

Pipeline (all float32 in [0, 1] on an ``S x S`` canvas): background -> hair behind the head ->
clothes and neck -> ears -> skin layer (albedo x Lambert/Blinn shading from a height map of the
head ellipsoid plus nose, brow, cheek, lip and chin bumps; pores; blush; freckles; wrinkles) with
brows, eyes, nose, lips and facial hair painted on -> head composite -> hair in front ->
glasses. The camera stage (:mod:`fakescope.data.synthfaces.camera`) comes after.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fakescope.data.synthfaces import draw as D
from fakescope.data.synthfaces.background import background
from fakescope.data.synthfaces.geometry import (
    HEAD_AXES,
    HEAD_CENTRE,
    project,
    rotation,
    shape_landmarks,
    skull_outline,
    surface_points,
)
from fakescope.data.synthfaces.traits import IRIS_COLOURS, Identity, View


@dataclass
class RenderedFace:
    """A rendered face before the camera stage.

    image: float32 ``(S, S, 3)`` in [0, 1]; landmarks: float32 ``(68, 2)`` pixel ``(x, y)`` in
    iBUG order; face_mask: uint8 ``(S, S)`` in {0, 255} (jaw line + forehead up to the hairline);
    skin: float32 ``(S, S)`` head alpha times one minus the front hair alpha (where the pulse of
    a video frame shows).
    """

    image: np.ndarray
    landmarks: np.ndarray
    face_mask: np.ndarray
    skin: np.ndarray | None = None  # float32 (S, S) in [0, 1]: head skin not covered by hair


class _Ctx:
    """Projection of model points for one image."""

    def __init__(self, ident: Identity, view: View, size: int):
        self.S = size
        self.fw = ident.shape["face_width"]
        self.R = rotation(view.yaw, view.pitch, view.roll)
        self.scale = view.scale
        self.centre = view.centre
        self.F = size * view.scale  # pixels per model unit

    def p(self, pts3: np.ndarray) -> np.ndarray:
        return project(np.asarray(pts3, float), self.R, size=self.S, scale=self.scale,
                       centre=self.centre)[0]


def _bump(h: np.ndarray, c, sx: float, sy: float, amp: float, angle: float = 0.0) -> None:
    """Add an (optionally rotated) Gaussian bump of height ``amp`` at pixel ``c`` to ``h``."""
    S = h.shape[0]
    r = 2.6 * max(sx, sy)
    x0, x1 = int(max(0, c[0] - r)), int(min(S, c[0] + r + 1))
    y0, y1 = int(max(0, c[1] - r)), int(min(S, c[1] + r + 1))
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xx - c[0], yy - c[1]
    if angle:
        ca, sa = np.cos(angle), np.sin(angle)
        dx, dy = ca * dx + sa * dy, -sa * dx + ca * dy
    h[y0:y1, x0:x1] += amp * np.exp(-0.5 * ((dx / sx) ** 2 + (dy / sy) ** 2))


def _height_map(ctx: _Ctx, lm: np.ndarray, ident: Identity) -> tuple[np.ndarray, np.ndarray]:
    """Head height map (pixels) ``(S, S)`` with facial bumps, and the smooth ellipsoid alone."""
    S, F = ctx.S, ctx.F
    xx, yy = D.grid(S)
    c = ctx.p(HEAD_CENTRE[None])[0]
    roll = np.arctan2(ctx.R[1, 0], ctx.R[0, 0])
    ca, sa = np.cos(roll), np.sin(roll)
    dx, dy = xx - c[0], yy - c[1]
    u = (ca * dx + sa * dy) / (F * HEAD_AXES[0] * ctx.fw * 1.04)
    v = (-sa * dx + ca * dy) / (F * HEAD_AXES[1])
    v = np.where(v > 0, v * 0.8, v)  # the jaw reaches below the skull ellipsoid
    base = (F * HEAD_AXES[2] * np.sqrt(np.clip(1 - u * u - v * v, 0.0, 1.0))).astype(np.float32)
    h = base.copy()
    eye_w = np.linalg.norm(lm[39] - lm[36])
    s = F * 0.03
    for i, a in zip((27, 28, 29), (0.03, 0.05, 0.07), strict=True):
        _bump(h, lm[i], s * 1.9, s * 2.2, F * a)
    _bump(h, lm[30], s * 1.7, s * 1.5, F * 0.1)
    _bump(h, 0.5 * (lm[29] + lm[30]), s * 1.5, s * 1.8, F * 0.04)
    for i in (31, 35):
        _bump(h, lm[i], s * 1.0, s * 0.9, F * 0.05)
    for eye in (slice(36, 42), slice(42, 48)):
        ec = lm[eye].mean(0)
        _bump(h, ec, eye_w * 0.75, eye_w * 0.5, -F * 0.06)
        _bump(h, ec, eye_w * 0.42, eye_w * 0.3, F * 0.045)
    for b in (19, 24):
        _bump(h, lm[b] + np.array([0, -0.02 * F]), eye_w * 0.9, eye_w * 0.35, F * 0.035)
    for j, e in ((3, 36), (13, 45)):
        _bump(h, 0.45 * lm[j] + 0.55 * lm[e] + np.array([0, 0.03 * F]), eye_w * 0.8, eye_w * 0.6,
              F * 0.04)
    _bump(h, lm[51], eye_w * 0.6, s * 0.9, F * 0.035)
    _bump(h, lm[57], eye_w * 0.55, s * 0.9, F * 0.03)
    _bump(h, lm[8] + np.array([0, -0.06 * F]), eye_w * 0.55, eye_w * 0.4, F * 0.04)
    return h, base


def _shading(h: np.ndarray, view: View, *, shininess: float = 18.0,
             spec: float = 0.12) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse factor ``(S, S)`` in [0, 1] (wrapped Lambert + ambient) and specular ``(S, S)``."""
    hx = cv2.Sobel(h, cv2.CV_32F, 1, 0, ksize=3) * 0.125
    hy = cv2.Sobel(h, cv2.CV_32F, 0, 1, ksize=3) * 0.125
    hx = np.clip(hx, -4, 4)
    hy = np.clip(hy, -4, 4)
    inv = 1.0 / np.sqrt(hx * hx + hy * hy + 1.0)
    lx, ly, lz = (float(t) for t in view.light)
    ndl = (-hx * lx - hy * ly + lz) * inv
    wrap = 0.25
    diff = np.clip((ndl + wrap) / (1 + wrap), 0, 1)
    amb = view.ambient
    d = amb + (1 - amb) * diff
    hv = np.array([lx, ly, lz + 1.0])
    hv /= np.linalg.norm(hv)
    ndh = np.clip((-hx * hv[0] - hy * hv[1] + hv[2]) * inv, 0, 1)
    sp = spec * ndh ** shininess
    return d.astype(np.float32), sp.astype(np.float32)


def _skin_layer(ctx, lm, ident, view, rng, h) -> np.ndarray:
    S, F = ctx.S, ctx.F
    alb = (ident.skin_rgb / 255.0).astype(np.float32)
    img = np.empty((S, S, 3), np.float32)
    img[:] = alb
    # pores (fine) and blotches (low frequency, reddish)
    pores = D.smooth_noise(rng, S, 0.55) * (0.018 + 0.02 * ident.wrinkles)
    blot = D.lowfreq_noise(rng, S, 7) * 0.025
    img *= (1 + pores)[..., None]
    img[..., 0] *= 1 + blot
    img[..., 1] *= 1 + 0.4 * blot
    # cheek blush
    for j, e in ((3, 36), (13, 45)):
        cc = 0.35 * lm[j] + 0.65 * lm[e] + np.array([0, 0.12 * F])
        a = D.ellipse_alpha(S, cc, (0.09 * F, 0.07 * F), blur=0.05 * F)
        D.composite(img, alb * np.array([1.08, 0.78, 0.8]), a * (0.25 + 0.2 * (ident.gender == "female")))
    if ident.freckles > 0:
        n = int(40 * ident.freckles * (S / 128))
        mid = 0.5 * (lm[30] + lm[27])
        pts = mid + rng.normal(0, [0.16 * F, 0.06 * F], (n, 2))
        fa = np.zeros((S, S), np.float32)
        for p in pts:
            cv2.circle(fa, (int(p[0]), int(p[1])), max(1, S // 160), 1.0, -1, cv2.LINE_AA)
        D.composite(img, alb * 0.7, D.gaussian(fa, 0.4) * 0.35)
    _wrinkles(img, ctx, lm, ident, alb)
    return img


def _wrinkles(img, ctx, lm, ident, alb):
    S, F = ctx.S, ctx.F
    w = ident.wrinkles
    dark = alb * 0.72
    # nasolabial folds: always faint, stronger with age
    for a, m, sgn in ((31, 48, -1), (35, 54, 1)):
        p0 = lm[a] + np.array([sgn * 0.04 * F, -0.03 * F])
        p2 = lm[m] + np.array([sgn * 0.05 * F, 0.06 * F])
        p1 = 0.5 * (p0 + p2) + np.array([sgn * 0.035 * F, 0])
        curve = D.catmull_rom(np.stack([p0, p1, p2]), 5)
        D.composite(img, dark, D.line_alpha(S, curve, 1, blur=0.012 * F + 0.4) * (0.25 + 0.45 * w))
    if w < 0.25:
        return
    for k in range(3):
        y = 0.5 * (lm[19, 1] + lm[24, 1]) - (0.07 + 0.045 * k) * F
        xs = np.linspace(lm[18, 0], lm[25, 0], 5)
        ys = y + 0.012 * F * np.sin(np.linspace(0, np.pi, 5)) * -1
        D.composite(img, dark, D.line_alpha(S, np.stack([xs, ys], 1), 1, blur=0.5) * 0.35 * w)
    for e, sgn in ((36, -1), (45, 1)):
        for ang in (-0.4, 0.0, 0.4):
            p0 = lm[e] + np.array([sgn * 0.02 * F, 0])
            p1 = p0 + 0.05 * F * np.array([sgn * np.cos(ang), np.sin(ang)])
            D.composite(img, dark, D.line_alpha(S, np.stack([p0, p1]), 1, blur=0.4) * 0.3 * w)
    for eye in (slice(40, 42), slice(46, 48)):
        c = lm[eye].mean(0) + np.array([0, 0.04 * F])
        D.composite(img, dark, D.ellipse_alpha(S, c, (0.06 * F, 0.02 * F), blur=0.015 * F) * 0.4 * w)


def _brows(img, ctx, lm, ident, rng):
    S, F = ctx.S, ctx.F
    col = ident.hair_rgb / 255.0 * (0.7 if ident.hair_colour in ("blonde", "grey") else 0.85)
    if ident.hair_colour == "grey":
        col = np.array([0.3, 0.28, 0.26]) * 0.6 + col * 0.4
    th = ident.shape["brow_thickness"]
    tex = D.strand_noise(rng, S, max(3, S // 40), 10)
    for sl, inner_last in ((slice(17, 22), True), (slice(22, 27), False)):
        c = D.catmull_rom(lm[sl], 4)
        n = len(c)
        t = np.linspace(0, 1, n)
        t = t if inner_last else 1 - t  # 1 at the inner end
        w = F * (0.012 + 0.022 * t ** 0.7) * th
        tang = np.gradient(c, axis=0)
        nor = np.stack([-tang[:, 1], tang[:, 0]], 1)
        nor /= np.linalg.norm(nor, axis=1, keepdims=True) + 1e-9
        nor *= np.sign(nor[:, 1:2] + 1e-9)  # pointing down
        poly = np.concatenate([c - nor * w[:, None] * 0.6, (c + nor * w[:, None] * 0.4)[::-1]])
        a = D.poly_alpha(S, poly, blur=0.45 + 0.003 * S)
        a *= np.clip(0.75 + 0.25 * tex, 0, 1)
        D.composite(img, col, a * 0.88)


def _eyes(img, ctx, lm, ident, view, d, rng):
    S, F = ctx.S, ctx.F
    iris_rgb = np.array(IRIS_COLOURS[ident.iris]) / 255.0
    skin = ident.skin_rgb / 255.0
    lash = np.array([0.06, 0.05, 0.05])
    xx_full, yy_full = D.grid(S)
    for sl in (slice(36, 42), slice(42, 48)):
        pts = lm[sl]
        outline = D.catmull_rom(pts, 5, closed=True)
        ea = D.poly_alpha(S, outline)
        w = np.linalg.norm(pts[3] - pts[0])
        hgt = max(0.5 * (np.linalg.norm(pts[1] - pts[5]) + np.linalg.norm(pts[2] - pts[4])), 0.5)
        c = pts.mean(0)
        # socket shadow, lid crease
        crease = D.catmull_rom(np.stack([pts[0], pts[1] - [0, 0.55 * hgt + 0.015 * F],
                                         pts[2] - [0, 0.55 * hgt + 0.015 * F], pts[3]]), 5)
        D.composite(img, skin * 0.62, D.line_alpha(S, crease, 1, blur=0.5 + 0.004 * S) * 0.45)
        # local window around the eye for the per-pixel work
        x0, y0 = max(0, int(c[0] - w)), max(0, int(c[1] - w))
        x1, y1 = min(S, int(c[0] + w) + 2), min(S, int(c[1] + w) + 2)
        if x1 <= x0 or y1 <= y0:
            continue
        win = (slice(y0, y1), slice(x0, x1))
        xx, yy = xx_full[win], yy_full[win]
        sub = img[win]
        e = ea[win]
        top = D.poly_alpha(S, outline + np.array([0, 0.35 * hgt + 0.6]))[win]
        sclera = np.array([0.9, 0.87, 0.84]) * (0.78 + 0.22 * d[int(c[1]) % S, int(c[0]) % S])
        D.composite(sub, sclera, e)
        lid_shadow = e * (1 - top) * 0.45
        sub *= (1 - lid_shadow)[..., None]
        corner = np.exp(-((xx - pts[0][0]) ** 2 + (yy - pts[0][1]) ** 2) / (0.12 * w) ** 2)
        corner += np.exp(-((xx - pts[3][0]) ** 2 + (yy - pts[3][1]) ** 2) / (0.12 * w) ** 2)
        D.composite(sub, np.array([0.8, 0.55, 0.52]), e * np.clip(corner, 0, 1) * 0.6)
        # iris + pupil + catchlight
        r = 0.22 * w
        ic = c + np.array([view.gaze[0] * w * 0.6 + view.yaw / 90 * 0.1 * w,
                           view.gaze[1] * w * 0.6 - 0.05 * hgt])
        dist = np.sqrt((xx - ic[0]) ** 2 + (yy - ic[1]) ** 2)
        ia = np.clip(r - dist + 0.5, 0, 1) * e
        ang = np.arctan2(yy - ic[1], xx - ic[0])
        streak = 0.85 + 0.15 * np.sin(ang * 23 + 2 * np.sin(ang * 7))
        radial = np.clip(dist / r, 0, 1)
        iris = iris_rgb * (streak * (1.1 - 0.5 * radial ** 4))[..., None]
        iris *= (1 - lid_shadow * 1.2)[..., None]
        D.composite(sub, iris, ia)
        pa = np.clip(0.42 * r - dist + 0.5, 0, 1) * e
        D.composite(sub, np.array([0.02, 0.02, 0.02]), pa)
        lc = ic + np.array([view.light[0], view.light[1]]) * 0.45 * r
        ca = np.clip(max(0.6, 0.18 * r) - np.sqrt((xx - lc[0]) ** 2 + (yy - lc[1]) ** 2) + 0.5,
                     0, 1) * e
        D.composite(sub, np.array([1.0, 1.0, 1.0]), ca * 0.85)
        # lash line along the upper lid and the lower lid line
        upper = D.catmull_rom(pts[[0, 1, 2, 3]], 6)
        D.composite(img, lash, D.line_alpha(S, upper, max(1.0, 0.01 * S), blur=0.35) * 0.85)
        lower = D.catmull_rom(pts[[3, 4, 5, 0]], 6)
        D.composite(img, skin * 0.55, D.line_alpha(S, lower, 1, blur=0.4) * 0.35)


def _nose(img, ctx, lm, ident):
    S, F = ctx.S, ctx.F
    skin = ident.skin_rgb / 255.0
    for a, b in ((31, 32), (35, 34)):
        cc = 0.55 * lm[a] + 0.45 * lm[b] - np.array([0, 0.012 * F])
        ang = np.degrees(np.arctan2(lm[b][1] - lm[a][1], lm[b][0] - lm[a][0]))
        na = D.ellipse_alpha(S, cc, (0.028 * F, 0.012 * F), ang, blur=0.4 + 0.003 * S)
        D.composite(img, skin * 0.28, na * 0.85)
    for i, sgn in ((31, -1), (35, 1)):
        arc = np.stack([lm[i] + np.array([sgn * 0.005 * F, 0.005 * F]),
                        lm[i] + np.array([sgn * 0.025 * F, -0.02 * F]),
                        lm[i] + np.array([sgn * 0.005 * F, -0.05 * F])])
        D.composite(img, skin * 0.6, D.line_alpha(S, D.catmull_rom(arc, 4), 1, blur=0.5) * 0.4)


def _mouth(img, ctx, lm, ident, d):
    S, F = ctx.S, ctx.F
    lip = ident.lip_rgb / 255.0
    upper_poly = np.concatenate([D.catmull_rom(lm[48:55], 4), D.catmull_rom(lm[[64, 63, 62, 61, 60]], 4)])
    lower_poly = np.concatenate([D.catmull_rom(lm[[54, 55, 56, 57, 58, 59, 48]], 4),
                                 D.catmull_rom(lm[[60, 67, 66, 65, 64]], 4)])
    ua = D.poly_alpha(S, upper_poly, blur=0.45)
    la = D.poly_alpha(S, lower_poly, blur=0.45)
    D.composite(img, lip * 0.86, ua * 0.92)
    D.composite(img, lip * 1.04, la * 0.92)
    gap = np.linalg.norm(lm[66] - lm[62])
    if gap > 0.8:
        inner = D.catmull_rom(lm[60:68], 4, closed=True)
        oa = D.poly_alpha(S, inner, blur=0.3)
        D.composite(img, np.array([0.16, 0.06, 0.06]), oa)
        th = min(gap * 0.45, 0.045 * F)
        teeth = np.concatenate([D.catmull_rom(lm[[60, 61, 62, 63, 64]], 4),
                                (D.catmull_rom(lm[[60, 61, 62, 63, 64]], 4) + [0, th])[::-1]])
        ta = D.poly_alpha(S, teeth, blur=0.4) * oa
        D.composite(img, np.array([0.86, 0.83, 0.76]) * (0.7 + 0.3 * d[..., None]), ta * 0.95)
    line = D.catmull_rom(lm[[60, 61, 62, 63, 64]], 5)
    D.composite(img, lip * 0.4, D.line_alpha(S, line, 1, blur=0.35) * 0.7)
    for i in (48, 54):
        D.composite(img, lip * 0.45, D.ellipse_alpha(S, lm[i], (0.012 * F, 0.01 * F), blur=0.6) * 0.6)


def _facial_hair(img, ctx, lm, ident, rng):
    kind = ident.facial_hair
    if kind == "none":
        return
    S, F = ctx.S, ctx.F
    col = ident.hair_rgb / 255.0 * 0.8
    lips = D.poly_alpha(S, lm[48:60], blur=0.6)
    must = np.concatenate([lm[[31, 32, 33, 34, 35]] + [0, 0.012 * F],
                           lm[[54]] + [0.012 * F, -0.005 * F],
                           lm[[53, 52, 51, 50, 49]] - [0, 0.006 * F], lm[[48]] - [0.012 * F, 0.005 * F]])
    chin = np.concatenate([lm[[48]] + [-0.01 * F, 0.0], lm[5:12], lm[[54]] + [0.01 * F, 0.0],
                           lm[[55, 56, 57, 58, 59]] + [0, 0.01 * F]])
    if kind == "beard":
        cheek_r = 0.5 * (lm[14] + lm[35]) + [0.03 * F, 0]
        cheek_l = 0.5 * (lm[2] + lm[31]) - [0.03 * F, 0]
        region = np.concatenate([lm[2:15], [cheek_r], lm[[35, 34, 33, 32, 31]] + [0, 0.012 * F],
                                 [cheek_l]])
        a = D.poly_alpha(S, region, blur=0.02 * F)
        dens = 0.9
    elif kind == "goatee":
        a = np.maximum(D.poly_alpha(S, chin, blur=0.015 * F), D.poly_alpha(S, must, blur=0.01 * F))
        dens = 0.85
    elif kind == "moustache":
        a = D.poly_alpha(S, must, blur=0.01 * F)
        dens = 0.85
    else:  # stubble
        region = np.concatenate([lm[2:15], lm[[35, 34, 33, 32, 31]] + [0, 0.012 * F]])
        a = D.poly_alpha(S, region, blur=0.03 * F)
        dens = 0.35
    a = a * (1 - lips)
    tex = D.smooth_noise(rng, S, 0.5)
    if kind == "stubble":
        a = a * np.clip(0.5 + 0.5 * tex, 0, 1)
    else:
        a = a * np.clip(0.8 + 0.25 * tex, 0, 1)
    D.composite(img, col, np.clip(a * dens, 0, 1))


def _hair_texture(rng, S, col, style, h_shade) -> np.ndarray:
    length = max(3, S // (8 if style not in ("curly", "buzz") else 40))
    tex = D.strand_noise(rng, S, length, 85) if style not in ("curly", "buzz") else D.smooth_noise(
        rng, S, 0.9)
    tex2 = D.strand_noise(rng, S, length * 2, 95)
    t = 0.82 + 0.14 * tex + 0.06 * tex2
    img = col[None, None, :] * (t * h_shade)[..., None]
    return img.astype(np.float32)


def _hair(ctx, ident, view, rng, sk2, lm, base_h):
    """Return (back_alpha, front_alpha, hair_rgb_image) for the identity's style."""
    S, F, fw = ctx.S, ctx.F, ctx.fw
    style = ident.hair_style
    col = ident.hair_rgb / 255.0
    d_head, sp = _shading(base_h * 1.05, view, shininess=6.0, spec=0.1)
    shade_img = d_head + sp * 2
    img = _hair_texture(rng, S, col, style, shade_img)
    zero = np.zeros((S, S), np.float32)
    if style == "bald":
        return zero, zero, img
    vol = ident.hair_volume * (2.5 if style == "curly" else 1.0) * (0.3 if style == "buzz" else 1.0)
    sk = skull_outline(fw, 21)
    cy = HEAD_CENTRE[1]
    outer = sk.copy()
    outer[:, 0] *= 1 + vol * 1.2
    outer[:, 1] = cy + (sk[:, 1] - cy) * (1 + vol)
    outer2d = ctx.p(outer)
    # hairline across the forehead (drops towards the temples)
    t = np.linspace(-1, 1, 11)
    hl = ident.hairline + (0.12 if style == "bun" else 0.0)
    fringe = ident.gender == "female" and style in ("medium", "long") and ident.index % 3 == 0
    if fringe:
        hl = -0.34
    xs = t * HEAD_AXES[0] * fw * 0.98
    ys = hl + 0.3 * np.abs(t) ** 3
    line2d = ctx.p(surface_points(np.stack([xs, ys], 1), fw))
    ragged = rng.normal(0, 0.006 * F, line2d.shape)
    front = np.concatenate([outer2d, line2d + ragged])
    fa = D.poly_alpha(S, front, blur=0.5 + 0.006 * S)
    back = zero
    if style in ("medium", "long", "curly"):
        low = {"medium": 0.5, "long": 1.1, "curly": 0.3}[style]
        wid = HEAD_AXES[0] * fw * (1 + vol * 1.5) + (0.06 if style == "long" else 0.03)
        pts = np.concatenate([outer[::-1] * [1 + 0.02, 1, 1],
                              np.array([[-wid, cy + 0.1, HEAD_CENTRE[2]], [-wid * 1.02, low, HEAD_CENTRE[2]],
                                        [-wid * 0.6, low + 0.05, HEAD_CENTRE[2]],
                                        [wid * 0.6, low + 0.05, HEAD_CENTRE[2]],
                                        [wid * 1.02, low, HEAD_CENTRE[2]], [wid, cy + 0.1, HEAD_CENTRE[2]]])])
        back = D.poly_alpha(S, ctx.p(pts), blur=0.8 + 0.01 * S)
        # side locks in front of the ears
        for sgn in (-1, 1):
            a0 = HEAD_AXES[0] * fw
            lock = np.array([[sgn * a0 * 0.97, cy - 0.1, HEAD_CENTRE[2] + 0.12],
                             [sgn * wid, cy - 0.1, HEAD_CENTRE[2] + 0.05],
                             [sgn * wid, min(low, 0.3), HEAD_CENTRE[2] + 0.05],
                             [sgn * a0 * 0.93, min(low, 0.3) - 0.08, HEAD_CENTRE[2] + 0.12],
                             [sgn * a0 * 0.95, -0.05, HEAD_CENTRE[2] + 0.12]])
            fa = np.maximum(fa, D.poly_alpha(S, ctx.p(lock), blur=0.6 + 0.006 * S))
    elif style == "bun":
        top = ctx.p(np.array([[0.0, cy - HEAD_AXES[1] - 0.1, HEAD_CENTRE[2] - 0.1]]))[0]
        back = D.ellipse_alpha(S, top, (0.17 * F, 0.13 * F), blur=0.6)
    else:  # short / buzz: sideburns
        for sgn in (-1, 1):
            sb = np.array([[sgn * HEAD_AXES[0] * fw * 0.99, cy - 0.08, HEAD_CENTRE[2] + 0.2],
                           [sgn * HEAD_AXES[0] * fw * 1.0, 0.02, HEAD_CENTRE[2] + 0.2],
                           [sgn * HEAD_AXES[0] * fw * 0.9, 0.02, HEAD_CENTRE[2] + 0.32],
                           [sgn * HEAD_AXES[0] * fw * 0.9, cy - 0.08, HEAD_CENTRE[2] + 0.32]])
            fa = np.maximum(fa, D.poly_alpha(S, ctx.p(sb), blur=0.6) * 0.9)
    if style == "buzz":
        fa = fa * 0.8
    # wispy edge: modulate alpha by the strand texture near the boundary
    edge = np.clip(fa * (1 - fa) * 4, 0, 1)
    fa = np.clip(fa - edge * 0.35 * (D.smooth_noise(rng, S, 0.6) > 0.3), 0, 1)
    return back, fa, img


def _ears(img, ctx, ident, view, skin_img, d):
    S, F, fw = ctx.S, ctx.F, ctx.fw
    skin = ident.skin_rgb / 255.0
    roll = view.roll
    for sgn in (-1, 1):
        c3 = np.array([[sgn * HEAD_AXES[0] * fw * 0.98, -0.06, HEAD_CENTRE[2] + 0.02]])
        c = ctx.p(c3)[0]
        vis = 1 - sgn * np.sin(np.deg2rad(view.yaw)) * 1.2
        w = max(0.01, 0.075 * F * ident.ear_size * np.clip(vis, 0.1, 1.8))
        hgt = 0.16 * F * ident.ear_size
        c = c + np.array([sgn * w * 0.45, 0])
        a = D.ellipse_alpha(S, c, (w, hgt), roll + sgn * 8, blur=0.4)
        D.composite(img, skin_img * (0.85 * d)[..., None] + 0, a)
        inner = D.ellipse_alpha(S, c + [sgn * 0.15 * w, 0], (w * 0.5, hgt * 0.65), roll + sgn * 8,
                                blur=0.6 + 0.004 * S)
        D.composite(img, skin * 0.45, inner * 0.55)


def _glasses(img, ctx, ident, lm3):
    S, F = ctx.S, ctx.F
    col = np.array(ident.glasses_rgb) / 255.0
    th = max(1.0, S / 95)
    rims = []
    for sl in (slice(36, 42), slice(42, 48)):
        c3 = lm3[sl].mean(0) + np.array([0, 0.01, 0.12])
        t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        rx, ry = 0.125 * ctx.fw, 0.085
        ring = np.stack([c3[0] + rx * np.cos(t), c3[1] + ry * np.sin(t) * (1 + 0.15 * (np.sin(t) > 0)),
                         np.full_like(t, c3[2])], 1)
        rims.append(ctx.p(ring))
    lens = D.poly_alpha(S, rims[0], rims[1])
    D.composite(img, np.array([0.85, 0.9, 0.95]), lens * 0.08)
    a = np.zeros((S, S), np.float32)
    for r in rims:
        a = np.maximum(a, D.line_alpha(S, r, th, closed=True))
    bridge = np.stack([rims[0][0], 0.5 * (rims[0][0] + rims[1][12]) - [0, 0.02 * F], rims[1][12]])
    a = np.maximum(a, D.line_alpha(S, D.catmull_rom(bridge, 4), th))
    for r, sgn, idx in ((rims[0], -1, 12), (rims[1], 1, 0)):
        ear = ctx.p(np.array([[sgn * HEAD_AXES[0] * ctx.fw, -0.12, HEAD_CENTRE[2] + 0.1]]))[0]
        a = np.maximum(a, D.line_alpha(S, np.stack([r[idx], ear]), th))
    D.composite(img, col, a * 0.95)


def render_face(ident: Identity, view: View, size: int = 128) -> RenderedFace:
    """Render one face (see module doc). Deterministic given ``ident``, ``view`` and ``size``."""
    rng = np.random.default_rng(view.seed)
    ctx = _Ctx(ident, view, size)
    S, F, fw = size, ctx.F, ctx.fw
    lm3 = shape_landmarks(ident.shape, view.expr)
    lm = ctx.p(lm3)
    sk = skull_outline(fw, 17)
    sk2 = ctx.p(sk)
    img = background(rng, S, view.background["kind"])
    h, base_h = _height_map(ctx, lm, ident)
    d, sp = _shading(h, view, spec=0.07 + 0.05 * (ident.age < 40))
    back, front, hair_img = _hair(ctx, ident, view, rng, sk2, lm, base_h)
    D.composite(img, hair_img, back)
    # clothes and neck (they do not follow the head's yaw)
    neck_R = rotation(0.0, 0.0, view.roll * 0.5)
    pn = lambda P: project(np.asarray(P, float), neck_R, size=S, scale=view.scale,  # noqa: E731
                           centre=view.centre)[0]
    c = pn([[0.0, 1.45, HEAD_CENTRE[2]]])[0]
    cloth = D.ellipse_alpha(S, c, (1.05 * F, 0.62 * F), view.roll * 0.3, blur=0.6)
    xx, yy = D.grid(S)
    cl = ident.clothing_rgb / 255.0
    D.composite(img, cl * (0.8 + 0.2 * np.clip(1 - (yy - c[1] + 0.6 * F) / (0.6 * F), 0, 1))[..., None],
                cloth)
    skin = (ident.skin_rgb / 255.0).astype(np.float32)
    nw = 0.3 + 0.03 * (ident.gender == "male")
    neck_pts = pn([[-nw * fw, 0.0, HEAD_CENTRE[2]], [nw * fw, 0.0, HEAD_CENTRE[2]],
                   [(nw + 0.04) * fw, 0.9, HEAD_CENTRE[2]], [0.2, 1.0, HEAD_CENTRE[2]],
                   [0.0, 1.05, HEAD_CENTRE[2]], [-0.2, 1.0, HEAD_CENTRE[2]],
                   [-(nw + 0.04) * fw, 0.9, HEAD_CENTRE[2]]])
    na = D.poly_alpha(S, neck_pts, blur=0.4)
    chin_y = lm[8, 1]
    nshade = np.clip(0.5 + 0.4 * (yy - chin_y) / (0.3 * F), 0.5, 0.9) * (
        0.85 + 0.15 * np.clip(1 - np.abs(xx - lm[8, 0]) / (0.3 * F), 0, 1))
    D.composite(img, skin[None, None] * (nshade * (0.75 + 0.4 * view.ambient))[..., None], na)
    layer = _skin_layer(ctx, lm, ident, view, rng, h)
    _ears(img, ctx, ident, view, layer, d)
    _brows(layer, ctx, lm, ident, rng)
    _nose(layer, ctx, lm, ident)
    _eyes(layer, ctx, lm, ident, view, d, rng)
    _mouth(layer, ctx, lm, ident, d)
    _facial_hair(layer, ctx, lm, ident, rng)
    layer *= (d * 1.05)[..., None] * view.light_rgb.astype(np.float32)
    # warmer, redder shadows (subsurface scattering)
    layer *= 1 + (np.float32(1) - d)[..., None] * np.float32([0.12, -0.02, -0.06])
    layer += sp[..., None]
    head_poly = np.concatenate([lm[0:17], sk2[1:-1]])
    # at large yaw the far eye/brow corner can pass the jaw contour: cover the hull too
    hull = cv2.convexHull(np.concatenate([lm, sk2]).astype(np.float32))[:, 0]
    ha = np.maximum(D.poly_alpha(S, head_poly, blur=0.35),
                    D.poly_alpha(S, hull, blur=0.35) * (yy < lm[8, 1] - 0.1 * F))
    D.composite(img, layer, ha)
    D.composite(img, hair_img, front)
    if ident.glasses:
        _glasses(img, ctx, ident, lm3)
    # face mask: jaw pushed out 2 % + forehead arc above the brows
    cen = lm[27:36].mean(0)
    jaw = cen + (lm - cen) * 1.04
    t = np.linspace(1, -1, 9)
    brow_y = min(lm3[19, 1], lm3[24, 1]) - 0.16
    fh = surface_points(np.stack([t * HEAD_AXES[0] * fw * 0.92, brow_y + 0.14 * t ** 2], 1), fw)
    fm_hull = cv2.convexHull(np.concatenate([jaw, ctx.p(fh)]).astype(np.float32))[:, 0]
    fm = D.poly_alpha(S, fm_hull)
    face_mask = np.where(fm >= 0.5, 255, 0).astype(np.uint8)
    skin = (ha * (1 - front)).astype(np.float32)
    return RenderedFace(np.clip(img, 0, 1), lm.astype(np.float32), face_mask, skin)
