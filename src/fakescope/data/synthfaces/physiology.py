"""Synthetic physiology of a SynthFaces clip: a blood-volume pulse and how it colours the skin.

**Heart rate.** Each clip draws a mean rate ``hr0`` in 45-150 bpm. The instantaneous rate follows
breathing (respiratory sinus arrhythmia) and a slow wander::

    hr(t) = hr0 * (1 + rsa * sin(2 pi f_b t + phi_b)) + wander(t)

with breathing rate ``f_b`` 0.15-0.4 Hz, ``rsa`` 0.01-0.05 and ``wander`` a smooth random walk of
about 1 bpm. The beat phase is the integral ``phase(t) = int_0^t hr(s) / 60 ds``.

**Waveform.** One beat (phase ``u`` in [0, 1)) is a systolic wave plus a smaller, later diastolic
wave whose gap is the dicrotic notch (a two-Gaussian model as in neurokit2's ``ppg_simulate``)::

    w(u) = exp(-(u - 0.20)^2 / (2 * 0.075^2)) + d * exp(-(u - 0.52)^2 / (2 * 0.07^2))

with ``d`` 0.35-0.6; the clip's pulse is ``w(phase(t) mod 1)`` scaled to zero mean and unit std.

**Skin colour (an assumption of the benchmark, documented in docs/synthfaces.md).** Blood
absorbs most in green, so a pulse ``p`` darkens skin along the blood-volume signature
``PBV = [0.33, 0.77, 0.53]`` (de Haan & van Leest 2014), relative to the green channel::

    skin_c(x, t) *= 1 - A * g_r(x) * PBV_c / PBV_g * p(t - delay_r)

where ``A`` is the clip's pulse amplitude (a fraction of the pixel value at one std of ``p``;
benchmark default 0.2-0.6 %, i.e. peak-to-peak about 1-2 %), ``g_r`` a region weight (forehead
1.0 strongest, nose 0.8, cheeks 0.6-0.75, chin 0.5) and ``delay_r`` a small per-region pulse
transit delay (0-80 ms, forehead first). Regions are soft Gaussian blobs placed from the
landmarks, so the pulse moves with the face.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: Blood-volume pulse colour signature (normalised RGB), de Haan & van Leest 2014.
PBV = np.array([0.33, 0.77, 0.53], np.float32)
#: Pulse regions: name -> (weight range, delay range in seconds).
PULSE_REGIONS = {
    "forehead": ((1.0, 1.0), (0.0, 0.0)),
    "nose": ((0.7, 0.9), (0.0, 0.03)),
    "left_cheek": ((0.55, 0.8), (0.01, 0.05)),
    "right_cheek": ((0.55, 0.8), (0.01, 0.05)),
    "chin": ((0.4, 0.6), (0.03, 0.08)),
}
#: Default pulse amplitude range (fraction of pixel value at one std of the pulse).
DEFAULT_AMPLITUDE = (0.002, 0.006)


@dataclass
class Pulse:
    """One clip's pulse parameters (all drawn by :func:`draw_pulse`)."""

    hr_bpm: float
    breath_hz: float
    rsa: float
    breath_phase: float
    dicrotic: float
    amplitude: float
    weights: dict
    delays: dict
    wander_seed: int
    uniform: bool = False  # one weight and no delay over the whole face (a rendered pulse)

    def to_dict(self) -> dict:
        return asdict(self)


def draw_pulse(rng: np.random.Generator, *, hr_range=(45.0, 150.0),
               amplitude=DEFAULT_AMPLITUDE, uniform: bool = False) -> Pulse:
    """Draw a clip's pulse; ``amplitude`` a ``(lo, hi)`` range or a number (0 = no pulse)."""
    lo, hi = (amplitude, amplitude) if np.isscalar(amplitude) else amplitude
    w = {k: float(rng.uniform(*v[0])) for k, v in PULSE_REGIONS.items()}
    d = {k: float(rng.uniform(*v[1])) for k, v in PULSE_REGIONS.items()}
    if uniform:
        w = dict.fromkeys(w, 0.8)
        d = dict.fromkeys(d, 0.0)
    return Pulse(hr_bpm=float(rng.uniform(*hr_range)), breath_hz=float(rng.uniform(0.15, 0.4)),
                 rsa=float(rng.uniform(0.01, 0.05)), breath_phase=float(rng.uniform(0, 2 * np.pi)),
                 dicrotic=float(rng.uniform(0.35, 0.6)), amplitude=float(rng.uniform(lo, hi)),
                 weights=w, delays=d, wander_seed=int(rng.integers(2**31)), uniform=uniform)


def instantaneous_hr(pulse: Pulse, t: np.ndarray) -> np.ndarray:
    """Heart rate in bpm at times ``t`` (s), shape of ``t`` (see module doc)."""
    t = np.asarray(t, np.float64)
    rng = np.random.default_rng(pulse.wander_seed)
    # smooth wander: a few slow sinusoids with random phases, about 1 bpm in all
    f = rng.uniform(0.01, 0.08, 3)
    ph = rng.uniform(0, 2 * np.pi, 3)
    wander = 0.6 * np.sin(2 * np.pi * f[:, None] * t[None] + ph[:, None]).sum(0)
    rsa = 1 + pulse.rsa * np.sin(2 * np.pi * pulse.breath_hz * t + pulse.breath_phase)
    return pulse.hr_bpm * rsa + wander


def waveform(u: np.ndarray, dicrotic: float) -> np.ndarray:
    """One beat's shape at phase ``u`` in [0, 1): systolic peak, dicrotic notch, diastolic wave."""
    u = np.mod(u, 1.0)
    return np.exp(-((u - 0.20) ** 2) / (2 * 0.075**2)) + dicrotic * np.exp(
        -((u - 0.52) ** 2) / (2 * 0.07**2))


def pulse_wave(pulse: Pulse, t: np.ndarray, *, delay: float = 0.0,
               fine_hz: float = 600.0) -> np.ndarray:
    """The normalised pulse ``p(t - delay)`` (zero mean, unit std over a beat cycle), ``(len(t),)``.

    The phase is integrated on a fine grid (``fine_hz``) from ``t = -1`` s so that delays are
    smooth; the normalisation uses the waveform's analytic cycle mean/std, not the clip's.
    """
    t = np.asarray(t, np.float64) - delay
    t0, t1 = -1.0, float(t.max()) + 1.0
    grid = np.arange(t0, t1, 1.0 / fine_hz)
    phase = np.cumsum(instantaneous_hr(pulse, grid) / 60.0) / fine_hz
    u = np.interp(t, grid, phase)
    ref = waveform(np.linspace(0, 1, 1000, endpoint=False), pulse.dicrotic)
    return (waveform(u, pulse.dicrotic) - ref.mean()) / ref.std()


def region_centres(lm: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """Pulse-region blob centres (px) and radii (px) from 68 landmarks ``(68, 2)``."""
    eye_d = float(np.linalg.norm(lm[45] - lm[36]))
    brow = 0.5 * (lm[19] + lm[24])
    up = lm[27] - lm[30]
    up = up / (np.linalg.norm(up) + 1e-9)
    return {
        "forehead": (brow + up * 0.3 * eye_d, 0.3 * eye_d),
        "nose": (0.5 * (lm[29] + lm[30]), 0.18 * eye_d),
        "left_cheek": (0.5 * (lm[2] + lm[31]) + 0.1 * (lm[41] - lm[2]), 0.28 * eye_d),
        "right_cheek": (0.5 * (lm[14] + lm[35]) + 0.1 * (lm[46] - lm[14]), 0.28 * eye_d),
        "chin": (0.5 * (lm[8] + lm[57]), 0.22 * eye_d),
    }


def pulse_modulation(pulse: Pulse, lm: np.ndarray, values: dict[str, float],
                     skin: np.ndarray) -> np.ndarray:
    """Relative darkening ``(S, S, 3)`` float32 of one frame (multiply the image by ``1 - m``).

    ``values``: region -> ``p(t - delay_r)`` at this frame; ``skin``: ``(S, S)`` float in [0, 1]
    (where the skin is visible). A base weight of 0.35 of the mean pulse covers all skin so no
    skin pixel is pulse-free; the region blobs add their own weight and phase on top.
    """
    S = skin.shape[0]
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    mean_v = float(np.mean(list(values.values())))
    acc = np.full((S, S), 0.35 * mean_v, np.float32)
    for name, (c, r) in region_centres(lm).items():
        g = np.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / (2 * r * r))
        acc += g * np.float32(pulse.weights[name] * values[name])
    m = pulse.amplitude * acc * skin
    return (m[..., None] * (PBV / PBV[1])[None, None]).astype(np.float32)
