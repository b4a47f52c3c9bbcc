"""Camera stage: white balance, exposure/gamma, resolution loss, blur, sensor noise, sharpening,
then (separately, after any manipulation) JPEG compression.

``camera`` dict keys (see :func:`fakescope.data.synthfaces.traits.sample_view`): wb (3 gains),
exposure, gamma, downscale (1 = none), blur (sigma px at 128 px), noise (sigma in 8-bit levels),
chroma_noise (fraction of per-channel noise), sharpen (unsharp amount), jpeg (quality).
"""

from __future__ import annotations

import cv2
import numpy as np

from fakescope.data.synthfaces import draw as D


def sensor(img: np.ndarray, cam: dict, rng: np.random.Generator) -> np.ndarray:
    """Float RGB ``(S, S, 3)`` in [0, 1] -> uint8 RGB after optics and sensor (no JPEG)."""
    S = img.shape[0]
    k = S / 128.0
    x = img * np.asarray(cam["wb"], np.float32) * np.float32(cam["exposure"])
    x = np.clip(x, 0, 1) ** np.float32(1.0 / cam["gamma"])
    if cam["downscale"] < 1.0:
        s = max(8, int(round(S * cam["downscale"])))
        x = cv2.resize(cv2.resize(x, (s, s), interpolation=cv2.INTER_AREA), (S, S),
                       interpolation=cv2.INTER_LINEAR)
    if cam["blur"] > 0.05:
        x = D.gaussian(x, cam["blur"] * k)
    n_l = rng.standard_normal((S, S, 1), dtype=np.float32)
    n_c = rng.standard_normal((S, S, 3), dtype=np.float32)
    c = np.float32(cam["chroma_noise"])
    noise = (n_l * (1 - c) + n_c * c) * np.float32(cam["noise"] / 255.0)
    if cam["sharpen"] > 0:
        noise = D.gaussian(noise, 0.5)  # demosaicked, correlated noise
    x = x + noise
    if cam["sharpen"] > 0:
        x = x + np.float32(cam["sharpen"]) * (x - D.gaussian(x, 1.0 * k))
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """JPEG round-trip of an RGB uint8 image at ``quality`` (1-100, 100 = skip)."""
    if quality >= 100:
        return img
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
