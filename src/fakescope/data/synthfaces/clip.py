"""SynthFaces clips: a per-frame timeline of head motion, expression and light, and its render.

A clip starts from one still view (:func:`~fakescope.data.synthfaces.traits.sample_view`, the
clip's anchor) and moves around it, frame ``t`` at time ``t / fps``:

- **head pose**: yaw / pitch / roll = anchor + a sum of three slow sinusoids (0.05-0.4 Hz) with
  total amplitude studio 3-7 / 2-4 / 1-3 degrees, phone 5-10 / 3-6 / 2-5; translation of the
  centre 0.5-1.5 % (studio) or 1-3 % (phone) of the frame, and for phone a small hand-held shake
  (1-2.5 Hz, 0.1-0.3 % of the frame);
- **blinks**: a Poisson process, one every 2-6 s on average, each 0.1-0.3 s, a raised-cosine dip
  of ``eye_open`` to 10 %;
- **talking**: segments (50 % of clips talk, 40-80 % of the time) where ``mouth_open`` follows
  band-limited noise in 2-5 Hz, rectified; ``smile`` and ``brow_raise`` drift slowly;
- **light**: exposure drifts by 1-3 % (studio) or 2-6 % (phone) at 0.02-0.1 Hz;
- **camera noise** is drawn afresh every frame (the sensor stage), the background and the skin
  texture keep the anchor's seed.

The blood-volume pulse (:mod:`.physiology`) darkens the skin before the camera stage.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from fakescope.data.synthfaces.camera import sensor
from fakescope.data.synthfaces.physiology import (
    PULSE_REGIONS,
    Pulse,
    pulse_modulation,
    pulse_wave,
)
from fakescope.data.synthfaces.render import render_face
from fakescope.data.synthfaces.traits import Identity, View


@dataclass
class Timeline:
    """Per-frame parameters of a clip: arrays of shape ``(T,)`` plus the drawn amplitudes."""

    fps: float
    yaw: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    eye_open: np.ndarray
    mouth_open: np.ndarray
    smile: np.ndarray
    brow_raise: np.ndarray
    exposure: np.ndarray
    params: dict

    @property
    def n_frames(self) -> int:
        return len(self.yaw)

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.n_frames) / self.fps


def _sines(rng, t, total_amp, f_lo, f_hi, n=3) -> np.ndarray:
    f = rng.uniform(f_lo, f_hi, n)
    ph = rng.uniform(0, 2 * np.pi, n)
    w = rng.dirichlet(np.ones(n)) * total_amp
    return (w[:, None] * np.sin(2 * np.pi * f[:, None] * t[None] + ph[:, None])).sum(0)


def _band_noise(rng, t, f_lo, f_hi, n=8) -> np.ndarray:
    f = rng.uniform(f_lo, f_hi, n)
    ph = rng.uniform(0, 2 * np.pi, n)
    x = np.sin(2 * np.pi * f[:, None] * t[None] + ph[:, None]).sum(0)
    return x / np.sqrt(n / 2)


def _blinks(rng, t, fps) -> tuple[np.ndarray, int]:
    dip = np.zeros_like(t)
    rate = rng.uniform(1 / 6, 1 / 2)
    start, n = float(rng.exponential(1 / rate)) * 0.5, 0
    while start < t[-1]:
        dur = rng.uniform(0.1, 0.3)
        u = (t - start) / dur
        inside = (u >= 0) & (u <= 1)
        dip[inside] = np.maximum(dip[inside], 0.5 - 0.5 * np.cos(2 * np.pi * u[inside]))
        n += 1
        start += dur + float(rng.exponential(1 / rate))
    return dip, n


def sample_timeline(rng: np.random.Generator, anchor: View, n_frames: int,
                    fps: float = 30.0) -> Timeline:
    """Draw a clip's motion around ``anchor`` (see module doc); deterministic given ``rng``."""
    studio = anchor.domain == "studio"
    t = np.arange(n_frames) / fps
    amp = {"yaw": rng.uniform(3, 7) if studio else rng.uniform(5, 10),
           "pitch": rng.uniform(2, 4) if studio else rng.uniform(3, 6),
           "roll": rng.uniform(1, 3) if studio else rng.uniform(2, 5),
           "shift": rng.uniform(0.005, 0.015) if studio else rng.uniform(0.01, 0.03),
           "shake": 0.0 if studio else rng.uniform(0.001, 0.003),
           "light_drift": rng.uniform(0.01, 0.03) if studio else rng.uniform(0.02, 0.06)}
    yaw = anchor.yaw + _sines(rng, t, amp["yaw"], 0.05, 0.4)
    pitch = anchor.pitch + _sines(rng, t, amp["pitch"], 0.05, 0.4)
    roll = anchor.roll + _sines(rng, t, amp["roll"], 0.05, 0.3)
    cx = anchor.centre[0] + _sines(rng, t, amp["shift"], 0.03, 0.25)
    cy = anchor.centre[1] + _sines(rng, t, amp["shift"] * 0.6, 0.03, 0.25)
    if amp["shake"]:
        cx = cx + amp["shake"] * _band_noise(rng, t, 1.0, 2.5, 4)
        cy = cy + amp["shake"] * _band_noise(rng, t, 1.0, 2.5, 4)
    dip, n_blinks = _blinks(rng, t, fps)
    eye_open = anchor.expr["eye_open"] * (1 - 0.9 * dip)
    talks = bool(rng.random() < 0.5)
    talk_frac = float(rng.uniform(0.4, 0.8)) if talks else 0.0
    slow = _band_noise(rng, t, 0.1, 0.3, 3)
    on = slow > np.quantile(slow, 1 - talk_frac) if talks else np.zeros(n_frames, bool)
    syll = np.clip(_band_noise(rng, t, 2.0, 5.0), 0, None) * 0.35
    mouth = np.clip(anchor.expr["mouth_open"] * 0.5 + on * syll, 0, 1)
    smile = np.clip(anchor.expr["smile"] + _sines(rng, t, 0.15, 0.02, 0.1), 0, 1)
    brow = np.clip(anchor.expr["brow_raise"] + _sines(rng, t, 0.2, 0.02, 0.15), -0.2, 1)
    exposure = anchor.camera["exposure"] * (1 + _sines(rng, t, amp["light_drift"], 0.02, 0.1))
    params = {k: round(float(v), 4) for k, v in amp.items()}
    params.update(blinks=n_blinks, talking=round(talk_frac, 3), fps=float(fps),
                  n_frames=int(n_frames))
    return Timeline(fps, yaw, pitch, roll, cx, cy, eye_open, mouth, smile, brow, exposure, params)


def frame_view(anchor: View, tl: Timeline, i: int) -> View:
    """The anchor view moved to frame ``i`` of the timeline (same texture/background seed)."""
    expr = dict(anchor.expr, eye_open=float(tl.eye_open[i]), mouth_open=float(tl.mouth_open[i]),
                smile=float(tl.smile[i]), brow_raise=float(tl.brow_raise[i]))
    camera = dict(anchor.camera, exposure=float(tl.exposure[i]))
    return replace(anchor, yaw=float(tl.yaw[i]), pitch=float(tl.pitch[i]), roll=float(tl.roll[i]),
                   centre=(float(tl.cx[i]), float(tl.cy[i])), expr=expr, camera=camera)


@dataclass
class RenderedClip:
    """A rendered clip after the camera stage (before the codec).

    frames: uint8 ``(T, S, S, 3)`` RGB; landmarks: float32 ``(T, 68, 2)``; face_masks: uint8
    ``(T, S, S)`` in {0, 255}; pulse: float32 ``(T,)`` the forehead pulse ``p(t)`` (zero when the
    clip has none); region_pulse: float32 ``(T, 5)`` per pulse region (PULSE_REGIONS order).
    """

    frames: np.ndarray
    landmarks: np.ndarray
    face_masks: np.ndarray
    pulse: np.ndarray
    region_pulse: np.ndarray


def render_clip(ident: Identity, anchor: View, tl: Timeline, pulse: Pulse | None, *, size: int,
                noise_rng: np.random.Generator) -> RenderedClip:
    """Render every frame of ``tl``; the pulse (if any) darkens the skin, then the sensor stage
    adds fresh noise from ``noise_rng`` per frame."""
    T = tl.n_frames
    t = tl.times
    names = list(PULSE_REGIONS)
    if pulse is not None and pulse.amplitude > 0:
        waves = np.stack([pulse_wave(pulse, t, delay=pulse.delays[n]) for n in names], 1)
    else:
        waves = np.zeros((T, len(names)))
    frames = np.empty((T, size, size, 3), np.uint8)
    lms = np.empty((T, 68, 2), np.float32)
    masks = np.empty((T, size, size), np.uint8)
    for i in range(T):
        view = frame_view(anchor, tl, i)
        face = render_face(ident, view, size)
        img = face.image
        if pulse is not None and pulse.amplitude > 0:
            vals = dict(zip(names, waves[i].tolist(), strict=True))
            img = img * (1 - pulse_modulation(pulse, face.landmarks, vals, face.skin))
        frames[i] = sensor(img.astype(np.float32), view.camera, noise_rng)
        lms[i] = face.landmarks
        masks[i] = face.face_mask
    return RenderedClip(frames, lms, masks, waves[:, 0].astype(np.float32),
                        waves.astype(np.float32))
