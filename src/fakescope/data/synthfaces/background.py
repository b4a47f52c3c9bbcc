"""Backgrounds per domain: plain studio gradients vs. cluttered, defocused indoor scenes."""

from __future__ import annotations

import numpy as np

from fakescope.data.synthfaces import draw as D


def background(rng: np.random.Generator, size: int, kind: str) -> np.ndarray:
    """RGB float32 ``(S, S, 3)`` in [0, 1] for domain ``kind`` (``studio`` or ``phone``)."""
    S = size
    xx, yy = D.grid(S)
    if kind == "studio":
        base = rng.choice([[0.72, 0.72, 0.72], [0.35, 0.42, 0.52], [0.78, 0.74, 0.66],
                           [0.2, 0.22, 0.25], [0.55, 0.62, 0.58]]) * rng.uniform(0.85, 1.1)
        r = np.sqrt((xx / S - 0.5) ** 2 + (yy / S - 0.4) ** 2)
        glow = np.clip(1.15 - 0.7 * r - 0.15 * yy / S, 0.5, 1.2)
        img = base[None, None] * glow[..., None]
        return img.astype(np.float32)
    base = rng.uniform(0.25, 0.85, 3)
    img = np.empty((S, S, 3), np.float32)
    img[:] = base
    grad = 0.75 + 0.5 * (rng.uniform(-1, 1) * (xx / S - 0.5) + rng.uniform(-1, 1) * (yy / S - 0.5))
    for _ in range(int(rng.integers(3, 8))):
        x0, y0 = rng.uniform(-0.2, 1.0, 2) * S
        w, h = rng.uniform(0.1, 0.6, 2) * S
        col = rng.uniform(0.05, 1.0, 3)
        if rng.random() < 0.2:  # window / lamp
            col = np.array([0.97, 0.96, 0.92])
        a = D.poly_alpha(S, np.array([[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]]))
        D.composite(img, col, a * rng.uniform(0.6, 1.0))
    img = D.gaussian(img, rng.uniform(0.015, 0.04) * S)
    img *= grad[..., None]
    img += 0.04 * D.lowfreq_noise(rng, S, 5)[..., None]
    return np.clip(img, 0, 1)
