"""Benign perturbations at strength levels, on float images ``(N, 3, H, W)`` in [0, 1].

=========  ===================================  ==========================================
kind       strength                             operation
=========  ===================================  ==========================================
jpeg       quality 1..100 (lower = stronger)    JPEG encode/decode (OpenCV), per image
blur       Gaussian sigma in pixels             Gaussian blur, kernel 2*ceil(3 sigma)+1
noise      Gaussian std in pixel units          ``x + std * N(0, 1)`` (seeded), clipped
resize     scale factor in (0, 1]               down-scale (area) then up-scale (bilinear)
=========  ===================================  ==========================================

Every output is float32 in [0, 1] with the input's shape; the same seed gives the same output.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from fakescope.errors import ConfigError

DEFAULT_LEVELS: dict[str, tuple[float, ...]] = {
    "jpeg": (90, 70, 50, 30, 10),
    "blur": (0.5, 1.0, 2.0, 3.0),
    "noise": (0.02, 0.05, 0.1, 0.2),
    "resize": (0.75, 0.5, 0.35, 0.25),
    "fgsm": (1 / 255, 2 / 255, 4 / 255, 8 / 255),
    "pgd": (1 / 255, 2 / 255, 4 / 255, 8 / 255),
    "pgd_l2": (0.1, 0.25, 0.5, 1.0),
}
PERTURBATIONS = ("jpeg", "blur", "noise", "resize")


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    a = (x.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    return a.permute(0, 2, 3, 1).numpy()


def _from_uint8(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float() / 255.0
    return t.to(like.device)


def jpeg(x: torch.Tensor, quality: float) -> torch.Tensor:
    q = int(round(quality))
    if not 1 <= q <= 100:
        raise ConfigError(f"JPEG quality must be in 1..100, got {quality}")
    out = []
    for img in _to_uint8(x):
        ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
        out.append(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    return _from_uint8(np.stack(out), x)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma <= 0:
        return x.clone()
    k = 2 * math.ceil(3 * sigma) + 1
    a = x.detach().cpu().permute(0, 2, 3, 1).numpy()
    out = np.stack([cv2.GaussianBlur(img, (k, k), sigma, borderType=cv2.BORDER_REFLECT)
                    for img in a])
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous().to(x.device).clamp(0, 1)


def noise(x: torch.Tensor, std: float, *, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    n = torch.randn(x.shape, generator=g).to(x.device, x.dtype)
    return (x + std * n).clamp(0, 1)


def resize(x: torch.Tensor, scale: float) -> torch.Tensor:
    if not 0 < scale <= 1:
        raise ConfigError(f"resize scale must be in (0, 1], got {scale}")
    h, w = x.shape[-2:]
    small = max(1, round(h * scale)), max(1, round(w * scale))
    y = torch.nn.functional.interpolate(x, size=small, mode="area")
    return torch.nn.functional.interpolate(y, size=(h, w), mode="bilinear",
                                           align_corners=False).clamp(0, 1)


def perturb(x: torch.Tensor, kind: str, strength: float, *, seed: int = 0) -> torch.Tensor:
    """Apply one benign perturbation (table in the module doc)."""
    if kind == "jpeg":
        return jpeg(x, strength)
    if kind == "blur":
        return blur(x, strength)
    if kind == "noise":
        return noise(x, strength, seed=seed)
    if kind == "resize":
        return resize(x, strength)
    raise ConfigError(f"unknown perturbation {kind!r}", hint=f"use one of {', '.join(PERTURBATIONS)}")
