"""Local manipulations: expression reenactment (geometry warp), mouth re-texturing and
diffusion-style inpainting (directional smoothing)."""

from __future__ import annotations

import cv2
import numpy as np

from fakescope.data.generators import ops
from fakescope.data.generators.base import FakeResult, Generator, register_generator


@register_generator
class Reenact(Generator):
    """Face2Face-like expression transfer: mouth, jaw, brow and eyelid landmarks are moved to a
    new expression and the image follows by a piecewise-affine warp (Delaunay triangles over the
    landmarks); an opened mouth gets a dark interior. The fake's landmarks are the moved ones.

    Ranges (x face width, scale with ``strength``): ``open`` (mouth opening) 0.02-0.08;
    ``smile`` (mouth-corner lift, negative = down) -0.03-0.06; ``brow`` (brow lift) -0.02-0.04;
    ``blink`` (eyelid closing, fraction of eye height) 0.0-0.4 (not scaled). Trace: geometry
    warp, resampling blur and stretched texture around the mouth and brows.
    """

    name = "reenact"
    ranges = {"open": (0.02, 0.08), "smile": (-0.03, 0.06), "brow": (-0.02, 0.04),
              "blink": (0.0, 0.4)}
    scaled = ("open", "smile", "brow")

    def generate(self, img, lm, rng, donor):
        fs = ops.face_size(lm)
        p = {k: self.draw(rng, k) for k in self.ranges}
        if max(abs(p["open"]), abs(p["smile"]), abs(p["brow"])) < 0.012:
            p["open"] = 0.02 * self.strength  # never a no-op
        new = lm.copy()
        op = p["open"] * fs
        for i, wgt in ((65, 0.9), (66, 1.0), (67, 0.9), (55, 0.8), (56, 0.95), (57, 1.0),
                       (58, 0.95), (59, 0.8)):
            new[i, 1] += op * wgt
        j = np.clip(1 - np.abs(np.arange(17) - 8) / 6.0, 0, 1) ** 1.5
        new[0:17, 1] += op * 0.7 * j
        for i, s in ((48, -1), (54, 1), (60, -1), (64, 1)):
            new[i] += [s * 0.3 * p["smile"] * fs, -p["smile"] * fs]
        new[17:27, 1] -= p["brow"] * fs
        for top, bot in ((37, 41), (38, 40), (43, 47), (44, 46)):
            new[top, 1] += p["blink"] * (lm[bot, 1] - lm[top, 1])
        fake, disp = ops.piecewise_affine(img, lm, new)
        gap_new = new[66, 1] - new[62, 1]
        gap_old = lm[66, 1] - lm[62, 1]
        mask = np.clip(disp / 0.5, 0, 1)
        if gap_new - gap_old > 1.5:
            inner = ops.hull_mask(img.shape, new[60:68])
            inner = ops.feather(inner, 0.006 * fs + 0.3) * 0.85
            dark = np.array([40, 18, 18], np.float32) * (img[..., :3].mean() / 128)
            fake = ops.blend(fake, np.broadcast_to(dark, img.shape), inner)
            mask = np.maximum(mask, inner)
        return FakeResult(fake, mask, self.name, new, p)


@register_generator
class NeuralTexture(Generator):
    """NeuralTextures-like mouth re-texturing: the mouth region is re-rendered from a smoothed
    version plus a 'learned texture' pattern (noise through a random 3x3 filter bank), with a
    slight lip-shape change, pasted with a feathered mask around the lips.

    Ranges: ``smooth`` (Gaussian sigma, px at 128 px) 0.8-1.8; ``texture`` (pattern std, 8-bit
    levels) 3-8 (scales with ``strength``); ``dilate`` (mask growth, x face width) 0.04-0.1;
    ``feather`` (x face width) 0.015-0.04; ``lips`` (lip-shape change, x face width) 0.0-0.02.
    Trace: local texture / sharpness inconsistency around the mouth.
    """

    name = "neural_texture"
    ranges = {"smooth": (0.8, 1.8), "texture": (3.0, 8.0), "dilate": (0.04, 0.1),
              "feather": (0.015, 0.04), "lips": (0.0, 0.02)}
    scaled = ("texture",)

    def generate(self, img, lm, rng, donor):
        fs = ops.face_size(lm)
        h, w = img.shape[:2]
        p = {k: self.draw(rng, k) for k in self.ranges}
        new = lm.copy()
        new[[48, 60]] += [-p["lips"] * fs * 0.5, -p["lips"] * fs]
        new[[54, 64]] += [p["lips"] * fs * 0.5, -p["lips"] * fs]
        warped, _ = ops.piecewise_affine(img, lm, new)
        sig = p["smooth"] * w / 128
        x = cv2.GaussianBlur(warped.astype(np.float32), (0, 0), sig)
        noise = rng.normal(0, 1, (h, w, 3)).astype(np.float32)
        for _ in range(2):
            k = rng.normal(0, 1, (3, 3)).astype(np.float32)
            noise = cv2.filter2D(noise, -1, k / np.abs(k).sum())
        noise /= noise.std() + 1e-6
        x += p["texture"] * noise
        hard = ops.hull_mask(img.shape, np.concatenate([lm[48:68], new[48:68]]))
        hard = ops.morph_mask(hard, p["dilate"] * fs)
        m = ops.feather(hard, p["feather"] * fs)
        fake = np.clip(np.rint(x), 0, 255).astype(np.uint8)
        return FakeResult(ops.blend(img, fake, m), m, self.name, new, p)


_REGIONS = ("eyes", "nose", "mouth", "face", "blob")


#: Direction of the inpainting denoiser's smear, radians from the image x axis (fixed, as a
#: trained model's is): 30 degrees, off the axes of JPEG's DCT and of the 8 x 8 grid.
SMEAR_ANGLE = np.pi / 6


def smear_kernel(length: float, theta: float = SMEAR_ANGLE, width: float = 0.5) -> np.ndarray:
    """Directional smoothing kernel, float32 ``(2r+1, 2r+1)`` with ``r = ceil(3 length)``, sum 1:
    ``exp(-u^2 / 2 length^2 - v^2 / 2 width^2)`` with ``u`` along ``theta`` and ``v`` across it
    (px). It removes detail that varies along ``theta`` and keeps detail across it."""
    r = int(np.ceil(3 * length))
    y, x = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float32)
    u = x * np.cos(theta) + y * np.sin(theta)
    v = -x * np.sin(theta) + y * np.cos(theta)
    k = np.exp(-u ** 2 / (2 * length ** 2) - v ** 2 / (2 * width ** 2))
    return (k / k.sum()).astype(np.float32)


@register_generator
class DiffusionInpaint(Generator):
    """Denoising-diffusion-style inpainting: a facial region (eyes, nose, mouth, whole face or a
    random blob) is noised to level ``sigma`` and 'denoised' by a directional smoothing step
    (:func:`smear_kernel` along the model's fixed :data:`SMEAR_ANGLE`), then given a small colour
    drift.

    Ranges: ``sigma`` (forward noise, 8-bit levels) 4-10; ``smear`` (smoothing length along
    the direction, px at 128 px) 2.0-3.5; ``drift`` (colour drift, levels) 2-8 (scales with
    ``strength``); ``feather`` (x face width) 0.02-0.05. Trace: detail lost along one fixed
    direction and kept across it, a removal with an orientation no other generator's has (their
    detail loss is isotropic), plus the streaks of the smeared forward noise.
    """

    name = "diffusion_inpaint"
    ranges = {"sigma": (4.0, 10.0), "smear": (2.0, 3.5), "drift": (2.0, 8.0),
              "feather": (0.02, 0.05)}
    scaled = ("drift",)

    def _region(self, lm, shape, rng, fs):
        kind = _REGIONS[int(rng.integers(len(_REGIONS)))]
        if kind == "eyes":
            pts = np.concatenate([lm[17:27], lm[36:48] + [0, 0.05 * fs]])
        elif kind == "nose":
            pts = np.concatenate([lm[27:36], lm[[39, 42]], lm[31:36] + [0, 0.04 * fs]])
        elif kind == "mouth":
            pts = np.concatenate([lm[48:60], lm[31:36], lm[5:12]])
        elif kind == "face":
            pts = ops.face_points(lm, 0.05)
        else:
            c = lm[27:68].mean(0) + rng.normal(0, 0.12 * fs, 2)
            ang = np.linspace(0, 2 * np.pi, 12, endpoint=False)
            r = fs * rng.uniform(0.12, 0.25) * rng.uniform(0.7, 1.3, 12)
            pts = c + np.stack([np.cos(ang) * r, np.sin(ang) * r], 1)
        return kind, ops.hull_mask(shape, pts)

    def generate(self, img, lm, rng, donor):
        fs = ops.face_size(lm)
        h, w = img.shape[:2]
        p = {k: self.draw(rng, k) for k in self.ranges}
        kind, hard = self._region(lm, img.shape, rng, fs)
        x = img.astype(np.float32) + rng.normal(0, p["sigma"], (h, w, 3)).astype(np.float32)
        x = cv2.filter2D(x, -1, smear_kernel(p["smear"] * w / 128, width=0.5 * w / 128),
                         borderType=cv2.BORDER_REFLECT101)
        x += rng.uniform(-1, 1, 3).astype(np.float32) * p["drift"]
        m = ops.feather(hard, p["feather"] * fs)
        fake = np.clip(np.rint(x), 0, 255).astype(np.uint8)
        p["region"] = kind
        return FakeResult(ops.blend(img, fake, m), m, self.name, lm, p)
