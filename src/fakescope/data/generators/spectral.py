"""Generators whose trace is spectral: band-limited low-rank reconstruction (eigenswap), transposed-
convolution checkerboards (gan_upsample) and a whole-image re-synthesis fingerprint."""

from __future__ import annotations

import cv2
import numpy as np

from fakescope.data.generators import ops
from fakescope.data.generators.base import FakeResult, Generator, register_generator


def dct_autoencode(patch: np.ndarray, res: int, keep: int) -> np.ndarray:
    """Linear autoencoder with an orthonormal truncated-DCT basis.

    ``patch`` float32 ``(h, w, 3)`` is resized to ``res x res``; the encoder keeps the
    ``keep x keep`` lowest-frequency DCT-II coefficients per channel (the code), the decoder
    inverts them and resizes back (bicubic). Returns float32 ``(h, w, 3)``.
    """
    h, w = patch.shape[:2]
    small = cv2.resize(patch, (res, res), interpolation=cv2.INTER_AREA)
    out = np.empty_like(small)
    for c in range(3):
        coef = cv2.dct(np.ascontiguousarray(small[..., c]))
        coef[keep:, :] = 0
        coef[:, keep:] = 0
        out[..., c] = cv2.idct(coef)
    return cv2.resize(out, (w, h), interpolation=cv2.INTER_CUBIC)


def robust_fine_std(img: np.ndarray, mask: np.ndarray) -> float:
    """Noise level of ``img`` (grey of RGB, or one channel) inside ``mask > 0.5``: the MAD
    estimate ``1.4826 * median(|r - median(r)|)`` of its finest band ``r = x - G_1px * x``, so
    edges barely count."""
    r = ops.grey_band(img, 0, 1.0)[mask > 0.5]
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


@register_generator
class EigenSwap(Generator):
    """DeepFakes-like: the donor face is warped onto the target's landmarks (piecewise affine),
    mixed with the target in the code space of a linear autoencoder (truncated DCT at ``res``
    px keeping ``keep`` x ``keep`` coefficients) and decoded, which loses the mid-scale detail.
    A skip connection carries the mixed input's finest band (``x - G_1px * x``, inside the face
    box) past the code, and grain is added until the face's noise level
    (:func:`robust_fine_std`) is back to ``grain`` x the target's, as swap pipelines re-noise
    their output. Then it is colour-matched and pasted with a feathered mask.

    Ranges: ``identity`` (donor weight in code space) 0.5-1.0; ``res`` (code resolution px) 32-56;
    ``keep`` (coefficients per axis, as a fraction of ``res``) 0.3-0.5; ``grain`` (restored
    fraction of the target's noise level) 0.8-1.0; ``feather`` (x face width) 0.02-0.05.
    Trace: mid-scale (2-3 px) detail loss under intact fine grain (unlike sbi and gan_upsample,
    which lose the finest band most, and diffusion_inpaint, which loses detail along one
    direction), identity mismatch.
    """

    name = "eigenswap"
    needs_donor = True
    ranges = {"identity": (0.5, 1.0), "res": (32, 56), "keep": (0.3, 0.5),
              "grain": (0.8, 1.0), "feather": (0.02, 0.05)}

    def generate(self, img, lm, rng, donor):
        fs = ops.face_size(lm)
        dimg, dlm = ops.donor_or_mirror(img, lm, donor)
        dimg, dlm = ops.align_similarity(dimg, dlm, lm, img.shape)
        dwarp, _ = ops.piecewise_affine(dimg, dlm, lm)
        p = {k: self.draw(rng, k) for k in self.ranges}
        hard = ops.hull_mask(img.shape, ops.face_points(lm, 0.05))
        ys, xs = np.nonzero(hard)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        target = img.astype(np.float32)
        mixed = p["identity"] * dwarp.astype(np.float32) + (1 - p["identity"]) * target
        res = int(round(p["res"]))
        keep = max(4, int(round(p["keep"] * res)))
        fake = target.copy()
        fake[y0:y1, x0:x1] = dct_autoencode(mixed[y0:y1, x0:x1], res, keep)
        fake[y0:y1, x0:x1] += (mixed - cv2.GaussianBlur(mixed, (0, 0), 1.0))[y0:y1, x0:x1]
        noise = rng.standard_normal(img.shape[:2]).astype(np.float32)
        want = p["grain"] * robust_fine_std(target, hard)
        have = robust_fine_std(fake, hard)
        fake += (np.sqrt(max(want ** 2 - have ** 2, 0.0)) / robust_fine_std(noise, hard)
                 * noise[..., None])
        fake = ops.colour_transfer(np.clip(np.rint(fake), 0, 255).astype(np.uint8), img, hard, 0.9)
        hard = ops.morph_mask(hard, -0.04 * fs)
        m = ops.feather(hard, p["feather"] * fs)
        p.update(res=res, keep_coefs=keep)
        return FakeResult(ops.blend(img, fake, m), m, self.name, lm, p)


def transposed_upsample(img: np.ndarray, amp: float, rng: np.random.Generator) -> np.ndarray:
    """x2 area-downsample then x2 transposed convolution (zero insertion + 4x4 kernel).

    The kernel is the bilinear one (phase sums all 1) plus a zero-mean perturbation whose four
    phase sums differ by up to ``amp``: a period-2 checkerboard, i.e. spectral peaks at N/2.
    Returns float32 ``(H, W, 3)``.
    """
    h, w = img.shape[:2]
    small = cv2.resize(img.astype(np.float32), (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    up = np.zeros((small.shape[0] * 2, small.shape[1] * 2, 3), np.float32)
    up[::2, ::2] = small
    b = np.array([1, 3, 3, 1], np.float32) / 4
    k = np.outer(b, b)  # each of the 4 polyphase components sums to 1
    pert = rng.normal(0, 1, (4, 4)).astype(np.float32)
    for i in range(2):
        for j in range(2):
            ph = pert[i::2, j::2]
            pert[i::2, j::2] = ph - ph.mean() + rng.uniform(-1, 1)
    pert *= amp / (np.abs(pert).max() + 1e-6)
    out = cv2.filter2D(up, -1, k + pert * 0.25, borderType=cv2.BORDER_REFLECT101)
    return cv2.resize(out, (w, h), interpolation=cv2.INTER_NEAREST) if out.shape[:2] != (h, w) else out


@register_generator
class GanUpsample(Generator):
    """GAN-style up-sampling: the face region is regenerated at half resolution and brought
    back by a transposed convolution with a slightly unbalanced kernel (checkerboard), then
    pasted with a feathered mask at opacity ``blend``.

    Ranges: ``amp`` (phase imbalance of the kernel) 0.025-0.1 (scales with ``strength``);
    ``blend`` (peak blend weight) 0.6-1.0; ``feather`` (x face width) 0.02-0.05; ``forehead``
    0.0-0.1. Trace: periodic checkerboard, spectral peaks at half the sampling frequency, mild
    detail loss.
    """

    name = "gan_upsample"
    ranges = {"amp": (0.025, 0.1), "blend": (0.6, 1.0), "feather": (0.02, 0.05),
              "forehead": (0.0, 0.1)}
    scaled = ("amp",)

    def generate(self, img, lm, rng, donor):
        fs = ops.face_size(lm)
        p = {k: self.draw(rng, k) for k in self.ranges}
        fake = transposed_upsample(img, p["amp"], rng)
        hard = ops.hull_mask(img.shape, ops.face_points(lm, p["forehead"]))
        hard = ops.morph_mask(hard, -0.03 * fs)
        m = ops.feather(hard, p["feather"] * fs) * p["blend"]
        m[m < 1 / 255] = 0
        return FakeResult(ops.blend(img, fake, m), m, self.name, lm, p)


def _fingerprint(h: int, w: int) -> np.ndarray:
    """The synthesis pipeline's fixed pattern: a 12x12 zero-mean, unit-std tile (seed 1234,
    smoothed with sigma 1 px so its energy sits at mid frequencies), tiled over the image.

    Neither the tile (12 px) nor its frequencies line up with JPEG's 8x8 blocks and the
    high-frequency coefficients JPEG drops, so the pattern survives the camera stage's
    compression. Measured on 20 real SynthFaces images at 128 px with a pattern of std 4 levels
    (projection of ``jpeg(img + fp) - jpeg(img)`` on ``fp``): after JPEG at quality 55 / 70 /
    85 / 95 it keeps 0.36 / 0.42 / 0.51 / 0.66 of its amplitude, the former 8x8 white-noise
    tile 0.06 / 0.09 / 0.14 / 0.28.
    """
    tile = np.random.default_rng(1234).normal(0, 1, (12, 12, 3)).astype(np.float32)
    tile = cv2.GaussianBlur(np.tile(tile, (3, 3, 1)), (0, 0), 1.0)[12:24, 12:24]  # periodic blur
    tile -= tile.mean((0, 1))
    tile /= tile.std() + 1e-6
    reps = (h // 12 + 1, w // 12 + 1, 1)
    return np.tile(tile, reps)[:h, :w]


@register_generator
class FullSynthesis(Generator):
    """Entire-face-synthesis-like: the whole image goes through a different 'rendering and
    camera' pipeline: edge-preserving smoothing (no sensor noise), a tone curve and saturation
    change, and a fixed 12x12 generator fingerprint pattern. The mask is the whole image.

    Ranges: ``smooth`` (bilateral sigma-colour, 8-bit levels) 35-60; ``fingerprint`` (pattern
    std, levels) 5.0-9.0 (scales with ``strength``); ``gamma`` 0.92-1.08; ``saturation``
    1.04-1.18. Trace: global fingerprint peaks at multiples of N/12, missing noise, flat
    texture.
    """

    name = "full_synthesis"
    ranges = {"smooth": (35.0, 60.0), "fingerprint": (5.0, 9.0), "gamma": (0.92, 1.08),
              "saturation": (1.04, 1.18)}
    scaled = ("fingerprint",)

    def generate(self, img, lm, rng, donor):
        h, w = img.shape[:2]
        p = {k: self.draw(rng, k) for k in self.ranges}
        x = cv2.bilateralFilter(img, 5, p["smooth"], 3).astype(np.float32) / 255
        x = x ** p["gamma"]
        grey = x.mean(2, keepdims=True)
        x = grey + p["saturation"] * (x - grey)
        x = x * 255 + p["fingerprint"] * _fingerprint(h, w)
        fake = np.clip(np.rint(x), 0, 255).astype(np.uint8)
        m = np.ones((h, w), np.float32)
        return FakeResult(fake, m, self.name, lm, p)
