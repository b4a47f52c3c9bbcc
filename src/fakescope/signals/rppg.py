"""Remote photoplethysmography: a pulse signal from an RGB trace, and the heart rate in it.

An RGB trace ``C`` is ``(T, 3)`` (a region's mean colour per frame, any unit) at ``fps`` frames
per second. ``Cn`` is ``C`` divided by its (local) mean, so the pulse appears as a relative
change of a fraction of a percent, largest in green. Methods (:data:`METHODS`):

- ``green``: ``Gn - 1`` band-passed.
- ``chrom`` (de Haan & Jeanne 2013): ``Cn = C / moving mean over window_s``; ``X = 3Rn - 2Gn``,
  ``Y = 1.5Rn + Gn - 1.5Bn``, both band-passed over the whole clip; then per window of
  ``L = round(window_s * fps)`` frames (50 % overlap): ``S = (std X / std Y) Y - X`` (the
  paper's ``X - alpha Y`` negated, so that all three methods rise when the skin colour moves
  along +PBV, i.e. gets brighter in green), times a Hann window, overlap-added.
- ``pos`` (Wang et al. 2017): per window of ``L`` frames starting at every frame,
  ``Cn = C / mean(C)``, ``S1 = Gn - Bn``, ``S2 = -2Rn + Gn + Bn``,
  ``h = S1 + (std S1 / std S2) S2``, ``h -= mean(h)``, overlap-added; then linear detrend and
  the 0.7-3 Hz band-pass (the paper's 0.75 Hz low edge would attenuate a 45 bpm pulse).

Both ``chrom`` and ``pos`` cancel a change common to all normalised channels (an intensity
flicker): ``X`` and ``Y`` and ``S1`` and ``S2`` all weight the three channels with sums 1, 1, 0,
0. Band-passes are zero-phase 3rd-order Butterworth (:func:`bandpass`, 0.7-3 Hz by default).
The pulse signal is in relative units (fraction of the mean colour).

Heart rate (:func:`heart_rate`): Hann-windowed periodogram zero-padded to at least
``60 fps / 0.25`` points (0.25 bpm bins), peak in ``band`` refined by parabolic interpolation.
SNR (after de Haan & Jeanne): ``10 log10(P_sig / P_noise)`` with ``P_sig`` the power within
``w`` of the HR and of twice the HR, ``P_noise`` the rest of the power in 0.5-4 Hz (clipped to
Nyquist). ``w`` is +-6 bpm (0.1 Hz), widened to the Hann window's main lobe, +-2/duration Hz,
for clips under 20 s: with a fixed +-6 bpm a pure tone in a 10 s clip would leak enough past
the bins to cap its SNR near 10 dB.

Traces may contain NaN (frames without a face): more than a quarter NaN is a :class:`DataError`,
fewer are filled by linear interpolation (nearest value at the ends). A clip shorter than
:data:`MIN_SECONDS` is refused (:func:`check_length`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal as sps
from scipy.ndimage import uniform_filter1d

from fakescope.errors import ConfigError, DataError
from fakescope.signals.traces import interpolate_gaps

METHODS = ("green", "chrom", "pos")
MIN_SECONDS = 4.0
#: SNR is measured against the power in this band (Hz), clipped to Nyquist.
SNR_BAND = (0.5, 4.0)
#: Half-width of the SNR signal bins around the HR and its 2nd harmonic (Hz) = 6 bpm; wider
#: (the Hann main lobe, 2 / duration) for clips under 20 s.
SNR_HALF_WIDTH = 0.1
MAX_NAN_FRACTION = 0.25


def check_length(n_frames: int, fps: float, *, path: str | Path | None = None) -> None:
    """Refuse a clip shorter than :data:`MIN_SECONDS` (or a non-positive frame rate)."""
    if not fps > 0:
        raise DataError(f"frame rate must be positive, got {fps}", path=path)
    seconds = n_frames / fps
    if seconds < MIN_SECONDS:
        raise DataError(f"clip too short for one signal window: {n_frames} frames at {fps:g} fps"
                        f" = {seconds:.2f} s < {MIN_SECONDS:.1f} s", path=path)


def _fill_nan(x: np.ndarray, what: str) -> np.ndarray:
    """``x`` ``(T, ...)`` with NaN rows interpolated; DataError if over a quarter are NaN."""
    bad = np.isnan(x).reshape(len(x), -1).any(axis=1)
    if not bad.any():
        return x
    if bad.mean() > MAX_NAN_FRACTION:
        raise DataError(f"{what} is {100 * bad.mean():.0f} % NaN (frames without a face), more "
                        f"than {100 * MAX_NAN_FRACTION:.0f} %",
                        hint="use a clip where the face is tracked in most frames")
    return interpolate_gaps(x, len(x), edges="hold")


@functools.lru_cache(maxsize=64)
def _butter(order: int, lo: float, hi: float, fps: float) -> np.ndarray:
    # designing the filter cost more than running it: a PPG map calls bandpass ~200 times
    sos = sps.butter(order, [lo, hi], btype="bandpass", fs=fps, output="sos")
    return sos


def bandpass(x, fps: float, lo: float = 0.7, hi: float = 3.0, order: int = 3) -> np.ndarray:
    """Zero-phase Butterworth band-pass of ``x`` along axis 0 (second-order sections, run
    forwards and backwards, so the effective order is ``2 order``). ``hi`` above 0.95 Nyquist
    is lowered to 0.95 Nyquist."""
    x = np.asarray(x, dtype=np.float64)
    nyq = fps / 2.0
    hi = min(hi, 0.95 * nyq)
    if not 0 < lo < hi:
        raise DataError(f"band {lo}-{hi} Hz is empty at {fps:g} fps",
                        hint="the frame rate is too low for this band")
    sos = _butter(order, float(lo), float(hi), float(fps))
    zeros = min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum())
    padlen = min(3 * (2 * len(sos) + 1 - zeros), x.shape[0] - 1)  # scipy's default, if it fits
    return sps.sosfiltfilt(sos, x, axis=0, padlen=padlen)


def _window_len(fps: float, window_s: float) -> int:
    n = int(round(window_s * fps))
    return max(n + n % 2, 4)  # even, for 50 % overlap


def _green(c: np.ndarray, fps: float, window_s: float) -> np.ndarray:
    g = c[:, 1] / c[:, 1].mean() - 1.0
    return bandpass(g, fps)


def _chrom(c: np.ndarray, fps: float, window_s: float) -> np.ndarray:
    n = len(c)
    L = min(_window_len(fps, window_s), n - n % 2)
    cn = c / uniform_filter1d(c, size=L, axis=0, mode="nearest") - 1.0
    r, g, b = cn.T
    xf = bandpass(3 * r - 2 * g, fps)
    yf = bandpass(1.5 * r + g - 1.5 * b, fps)
    win = sps.get_window("hann", L)
    out = np.zeros(n)
    hop = L // 2
    for s in range(0, n - L + 1, hop):
        x, y = xf[s:s + L], yf[s:s + L]
        sy = y.std()
        alpha = x.std() / sy if sy > 0 else 0.0
        out[s:s + L] += win * (alpha * y - x)
    return out


def _pos(c: np.ndarray, fps: float, window_s: float) -> np.ndarray:
    n = len(c)
    L = min(_window_len(fps, window_s), n)
    win = np.lib.stride_tricks.sliding_window_view(c, L, axis=0)  # (n-L+1, 3, L)
    cn = win / win.mean(axis=2, keepdims=True)
    s1 = cn[:, 1] - cn[:, 2]
    s2 = -2 * cn[:, 0] + cn[:, 1] + cn[:, 2]
    sd2 = s2.std(axis=1, keepdims=True)
    alpha = np.divide(s1.std(axis=1, keepdims=True), sd2, out=np.zeros_like(sd2),
                      where=sd2 > 0)
    h = s1 + alpha * s2
    h -= h.mean(axis=1, keepdims=True)
    out = np.zeros(n)
    m = len(h)
    for k in range(L):
        out[k:k + m] += h[:, k]
    return bandpass(sps.detrend(out), fps)


_PULSE = {"green": _green, "chrom": _chrom, "pos": _pos}


def _method(method: str) -> str:
    if method not in METHODS:
        raise ConfigError(f"unknown rPPG method {method!r}", hint=f"use {', '.join(METHODS)}")
    return method


def pulse_signal(rgb, fps: float, method: str = "pos", *, window_s: float = 1.6) -> np.ndarray:
    """The pulse signal ``(T,)`` (relative units) of an RGB trace ``(T, 3)`` (see module doc)."""
    _method(method)
    c = np.asarray(rgb, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != 3:
        raise DataError(f"an RGB trace must have shape (T, 3), got {c.shape}")
    check_length(len(c), fps)
    c = _fill_nan(c, "the RGB trace")
    if not (c.mean(axis=0) > 0).all():
        raise DataError("an RGB trace channel has a non-positive mean (a black region?)")
    return _PULSE[method](c, float(fps), window_s)


@dataclass
class HeartRate:
    """A heart-rate estimate: ``hr_bpm`` (NaN for a flat signal), ``snr_db``, the one-sided power
    spectrum (``freqs`` Hz, ``power``, from 0 to Nyquist) and the rPPG ``method`` used."""

    hr_bpm: float
    snr_db: float
    freqs: np.ndarray
    power: np.ndarray
    method: str


def _parabolic(p: np.ndarray, i: int) -> float:
    """Sub-bin offset of the peak at ``i`` from a parabola through ``p[i-1:i+2]``."""
    if i <= 0 or i >= len(p) - 1:
        return 0.0
    a, b, c = p[i - 1], p[i], p[i + 1]
    den = a - 2 * b + c
    return float(0.5 * (a - c) / den) if den < 0 else 0.0


def heart_rate(sig, fps: float, *, band=(0.7, 3.0), method: str = "") -> HeartRate:
    """Heart rate (bpm) and SNR (dB) of a pulse signal ``(T,)`` (see module doc)."""
    x = np.asarray(sig, dtype=np.float64)
    if x.ndim != 1:
        raise DataError(f"a pulse signal must have shape (T,), got {x.shape}")
    check_length(len(x), fps)
    x = _fill_nan(x, "the pulse signal")
    nfft = int(2 ** np.ceil(np.log2(max(len(x), 60.0 * fps / 0.25))))
    freqs, power = sps.periodogram(x, fs=fps, window="hann", nfft=nfft, detrend="constant")
    nyq = fps / 2.0
    lo, hi = band[0], min(band[1], nyq)
    inb = np.flatnonzero((freqs >= lo) & (freqs <= hi))
    if len(inb) == 0:
        raise DataError(f"heart-rate band {band[0]}-{band[1]} Hz is empty at {fps:g} fps")
    if not power[inb].max() > 0:
        return HeartRate(float("nan"), float("nan"), freqs, power, method)
    i = int(inb[np.argmax(power[inb])])
    df = freqs[1] - freqs[0]
    f_hr = freqs[i] + _parabolic(power, i) * df
    snr_band = (freqs >= SNR_BAND[0]) & (freqs <= min(SNR_BAND[1], nyq))
    w = max(SNR_HALF_WIDTH, 2.0 * fps / len(x))
    near = (np.abs(freqs - f_hr) <= w) | (np.abs(freqs - 2 * f_hr) <= w)
    p_sig = power[snr_band & near].sum()
    p_noise = power[snr_band & ~near].sum()
    snr = 10 * np.log10(p_sig / p_noise) if p_noise > 0 else float("inf")
    return HeartRate(float(60.0 * f_hr), float(snr), freqs, power, method)


def estimate_heart_rate(rgb, fps: float, method: str = "pos", *, window_s: float = 1.6,
                        band=(0.7, 3.0)) -> HeartRate:
    """:func:`pulse_signal` then :func:`heart_rate` of an RGB trace ``(T, 3)``."""
    return heart_rate(pulse_signal(rgb, fps, method, window_s=window_s), fps, band=band,
                      method=method)
