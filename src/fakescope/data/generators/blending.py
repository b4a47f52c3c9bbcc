"""Identity-level blends: face swap, self-blended images (SBI) and two-identity morphs."""

from __future__ import annotations

import cv2
import numpy as np

from fakescope.data.generators import ops
from fakescope.data.generators.base import FakeResult, Generator, register_generator


@register_generator
class FaceSwap(Generator):
    """FaceSwap-like: the donor face, taken from a more strongly compressed source (JPEG at
    ``src_jpeg``), similarity-aligned to the target's landmarks, colour-matched (Reinhard) and
    pasted with a feathered inner-face mask.

    Ranges: ``erode`` (mask erosion, x face width) 0.02-0.07; ``feather`` (Gaussian sigma, x face
    width) 0.015-0.045; ``colour`` (colour-transfer strength) 0.4-0.9; ``forehead`` (mask lift
    above the brows, x face width) 0.0-0.08; ``src_jpeg`` (JPEG quality of the donor source)
    20-50. Trace: blend boundary, 8 x 8 blocking inside the face on a grid rotated and shifted
    against the frame's (double compression), residual colour and identity mismatch.
    """

    name = "face_swap"
    needs_donor = True
    ranges = {"erode": (0.02, 0.07), "feather": (0.015, 0.045), "colour": (0.4, 0.9),
              "forehead": (0.0, 0.08), "src_jpeg": (20.0, 50.0)}

    def generate(self, img, lm, rng, donor):
        fs = ops.face_size(lm)
        dimg, dlm = ops.donor_or_mirror(img, lm, donor)
        p = {k: self.draw(rng, k) for k in self.ranges}
        dimg = ops.recompress(dimg, p["src_jpeg"])
        warped, _ = ops.align_similarity(dimg, dlm, lm, img.shape)
        hard = ops.hull_mask(img.shape, ops.face_points(lm, p["forehead"]))
        hard = ops.morph_mask(hard, -p["erode"] * fs)
        warped = ops.colour_transfer(warped, img, hard, p["colour"])
        m = ops.feather(hard, p["feather"] * fs)
        return FakeResult(ops.blend(img, warped, m), m, self.name, lm, p)


@register_generator
class SelfBlend(Generator):
    """Self-blended image (SBI, Shiohara & Yamasaki 2022): the face blended with a colour-,
    sharpness-, resolution- and scale-jittered copy of itself inside a deformed landmark-hull
    mask (SBI's source transforms include a random downscale; ``res`` is its factor).

    Ranges: ``blend`` (peak blend weight) 0.7-1.0; ``colour`` (per-channel shift, 8-bit levels)
    8-20; ``contrast`` (relative) 0.06-0.2; ``scale`` (|relative resize|) 0.02-0.06; ``shift``
    (x face width) 0.0-0.02; ``blur`` (Gaussian sigma px; negative = unsharp mask of that
    amount) -1.5-1.5; ``feather`` (x face width) 0.015-0.05; ``res`` (relative resolution of
    the copy) 0.6-0.9. ``colour``/``contrast``/``scale``/``shift`` scale with ``strength``.
    Trace: blend boundary, subtle colour, sharpness and resolution mismatch.
    """

    name = "sbi"
    ranges = {"blend": (0.7, 1.0), "colour": (8.0, 20.0), "contrast": (0.06, 0.2),
              "scale": (0.02, 0.06), "shift": (0.0, 0.02), "blur": (-1.5, 1.5),
              "feather": (0.015, 0.05), "res": (0.6, 0.9)}
    scaled = ("colour", "contrast", "scale", "shift")

    def generate(self, img, lm, rng, donor):
        fs = ops.face_size(lm)
        h, w = img.shape[:2]
        p = {k: self.draw(rng, k) for k in self.ranges}
        src = img.astype(np.float32)
        src = (src - src.mean()) * (1 + p["contrast"] * rng.choice([-1, 1])) + src.mean()
        src += rng.choice([-1, 1], 3) * p["colour"] * rng.uniform(0.3, 1.0, 3)
        if p["blur"] > 0.1:
            src = cv2.GaussianBlur(src, (0, 0), p["blur"])
        elif p["blur"] < -0.1:
            src = ops.sharpen(src, -p["blur"], 1.0)
        s = 1 + p["scale"] * rng.choice([-1, 1])
        t = rng.uniform(-1, 1, 2) * p["shift"] * fs
        c = lm[27:36].mean(0)
        m2 = np.array([[s, 0, (1 - s) * c[0] + t[0]], [0, s, (1 - s) * c[1] + t[1]]])
        src = cv2.warpAffine(np.clip(src, 0, 255).astype(np.uint8), m2, (w, h),
                             borderMode=cv2.BORDER_REFLECT101)
        src = ops.resolution_loss(src, p["res"])
        pts = ops.face_points(lm, rng.uniform(0, 0.08)) if rng.random() < 0.6 else lm[
            np.r_[1:16, 17:27]]
        pts = pts + rng.normal(0, 0.015 * fs, pts.shape)
        hard = ops.hull_mask(img.shape, pts)
        hard = ops.morph_mask(hard, rng.uniform(-0.06, 0.0) * fs)
        m = ops.feather(hard, p["feather"] * fs) * p["blend"]
        m[m < 1 / 255] = 0
        return FakeResult(ops.blend(img, src, m), m, self.name, lm, p)


@register_generator
class Morph(Generator):
    """Two-identity morph: the target is piecewise-affine warped to the interpolated landmarks
    and the donor only part of the way there (``align``), so its features leave ghost contours;
    the cross-dissolve is assembled in a subsampled-chroma working space (as 4:2:0 video), then
    pasted with a feathered face mask.

    Ranges: ``alpha`` (donor weight) 0.45-0.75; ``align`` (how far the donor is warped to the
    interpolated landmarks) 0.35-0.75; ``chroma`` (chroma resolution relative to the frame)
    0.3-0.5; ``feather`` (x face width) 0.02-0.05. Trace: ghosting / double edges of eyes,
    brows, nose and mouth, a geometry change, averaged-out luma noise and bled, noise-free
    chroma inside the face.
    """

    name = "morph"
    needs_donor = True
    ranges = {"alpha": (0.45, 0.75), "align": (0.35, 0.75), "chroma": (0.3, 0.5),
              "feather": (0.02, 0.05)}

    def generate(self, img, lm, rng, donor):
        fs = ops.face_size(lm)
        dimg, dlm = ops.donor_or_mirror(img, lm, donor)
        dimg, dlm = ops.align_similarity(dimg, dlm, lm, img.shape)
        p = {k: self.draw(rng, k) for k in self.ranges}
        a = p["alpha"]
        mid = (1 - a) * lm + a * dlm
        t_w, _ = ops.piecewise_affine(img, lm, mid)
        d_w, _ = ops.piecewise_affine(dimg, dlm, dlm + p["align"] * (mid - dlm))
        mix = (1 - a) * t_w.astype(np.float32) + a * d_w.astype(np.float32)
        mix = ops.colour_transfer(np.clip(mix, 0, 255).astype(np.uint8), img,
                                  ops.hull_mask(img.shape, lm[0:27]), 0.7)
        mix = ops.chroma_loss(mix, p["chroma"])
        hard = np.maximum(ops.hull_mask(img.shape, ops.face_points(lm, 0.03)),
                          ops.hull_mask(img.shape, ops.face_points(mid, 0.03)))
        hard = ops.morph_mask(hard, -0.03 * fs)
        m = ops.feather(hard, p["feather"] * fs)
        return FakeResult(ops.blend(img, mix, m), m, self.name, mid, p)
