"""Hand-crafted reference features: FFT power spectrum and uniform local binary patterns.

Both work on the grey image ``g = 0.299 R + 0.587 G + 0.114 B`` resized to ``size x size``
(area interpolation), so every crop gives a vector of the same length.
"""

from __future__ import annotations

import cv2
import numpy as np

from fakescope.models.feature_extractors import FeatureExtractor, register_feature_extractor


def to_grey(image: np.ndarray, size: int) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> float64 (size, size) grey levels in [0, 255]."""
    rgb = image.astype(np.float64)
    g = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    if g.shape != (size, size):
        g = cv2.resize(g, (size, size), interpolation=cv2.INTER_AREA)
    return g


def radial_power_spectrum(grey: np.ndarray, *, eps: float = 1e-8) -> np.ndarray:
    """Azimuthally averaged log power spectrum of a square image.

    ``P(u, v) = |FFT2(g - mean g)|^2 / n^2`` (centred); bin ``r`` averages ``P`` over the
    frequencies with ``floor(sqrt(u^2 + v^2)) = r``, ``r = 0 .. n//2 - 1``; returns
    ``log(mean_r P + eps)``, shape ``(n // 2,)``.
    """
    n = grey.shape[0]
    f = np.fft.fftshift(np.fft.fft2(grey - grey.mean()))
    power = (f.real ** 2 + f.imag ** 2) / float(n * n)
    yy, xx = np.indices(grey.shape)
    r = np.floor(np.hypot(yy - n // 2, xx - n // 2)).astype(np.int64)
    nb = n // 2
    keep = r < nb
    sums = np.bincount(r[keep], weights=power[keep], minlength=nb)
    counts = np.bincount(r[keep], minlength=nb)
    return np.log(sums / np.maximum(counts, 1) + eps)


# Neighbours of the 3x3 LBP (P = 8, R = 1, square neighbourhood), bit p for offset p.
_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def _uniform_table() -> np.ndarray:
    """Code (0..255) -> uniform bin: 58 uniform patterns (<= 2 circular 0/1 transitions) get
    bins 0..57 in increasing code order, every other code bin 58."""
    table = np.full(256, 58, np.int64)
    nxt = 0
    for code in range(256):
        bits = [(code >> p) & 1 for p in range(8)]
        if sum(bits[p] != bits[(p + 1) % 8] for p in range(8)) <= 2:
            table[code] = nxt
            nxt += 1
    return table


UNIFORM_TABLE = _uniform_table()
LBP_BINS = 59


def lbp_codes(grey: np.ndarray) -> np.ndarray:
    """8-neighbour LBP codes of the interior pixels: (H, W) -> (H-2, W-2) ints in [0, 255].

    ``code = sum_p [g_p >= g_c] 2^p`` over the square 3x3 neighbourhood (no interpolation).
    """
    c = grey[1:-1, 1:-1]
    h, w = grey.shape
    code = np.zeros(c.shape, np.int64)
    for p, (dy, dx) in enumerate(_OFFSETS):
        nb = grey[1 + dy:h - 1 + dy, 1 + dx:w - 1 + dx]
        code |= (nb >= c).astype(np.int64) << p
    return code


def lbp_histograms(grey: np.ndarray, *, grid: int = 4) -> np.ndarray:
    """Uniform-LBP histograms on a ``grid x grid`` partition, each normalised to sum 1.

    Returns ``(grid * grid * 59,)``, cells in row-major order.
    """
    u = UNIFORM_TABLE[lbp_codes(grey)]
    h, w = u.shape
    ys = np.linspace(0, h, grid + 1).astype(int)
    xs = np.linspace(0, w, grid + 1).astype(int)
    out = []
    for i in range(grid):
        for j in range(grid):
            cell = u[ys[i]:ys[i + 1], xs[j]:xs[j + 1]].ravel()
            hist = np.bincount(cell, minlength=LBP_BINS).astype(np.float64)
            out.append(hist / max(hist.sum(), 1.0))
    return np.concatenate(out)


class FFTSpectrum(FeatureExtractor):
    task = "handcrafted"
    offline = True

    def __init__(self, *, size: int = 64):
        self.size = int(size)
        self.feature_dim = self.size // 2
        self.preprocess = (f"grey, resize to {self.size}x{self.size}; azimuthally averaged log "
                           f"power spectrum, {self.feature_dim} radial bins; no weights")

    def _extract(self, images):
        return np.stack([radial_power_spectrum(to_grey(im, self.size)) for im in images])


class LBPHistogram(FeatureExtractor):
    task = "handcrafted"
    offline = True

    def __init__(self, *, size: int = 64, grid: int = 4):
        self.size, self.grid = int(size), int(grid)
        self.feature_dim = self.grid * self.grid * LBP_BINS
        self.preprocess = (f"grey, resize to {self.size}x{self.size}; uniform LBP (P=8, R=1) "
                           f"histograms on a {self.grid}x{self.grid} grid; no weights")

    def _extract(self, images):
        return np.stack([lbp_histograms(to_grey(im, self.size), grid=self.grid) for im in images])


@register_feature_extractor("fft", task="handcrafted",
                   description="azimuthally averaged log power spectrum (frequency artefacts)")
def _fft(*, size: int = 64, device=None) -> FFTSpectrum:
    return FFTSpectrum(size=size)


@register_feature_extractor("lbp", task="handcrafted",
                   description="uniform local binary pattern histograms on a grid (texture)")
def _lbp(*, size: int = 64, grid: int = 4, device=None) -> LBPHistogram:
    return LBPHistogram(size=size, grid=grid)
