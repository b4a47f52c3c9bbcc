"""The detectors a server holds, and scoring in-memory images with them.

A thin adapter over the prediction path while the detect layer has no call that scores
in-memory images with loaded weights: :func:`score_inputs` computes each image's ``{"p_fake",
"uncertainty"}`` exactly as :func:`fakescope.detect.detect_with_uncertainty` does (the numbers
``fakescope detect --uncertainty METHOD --json`` prints) and also returns the per-pass P(fake);
the pixel maps come from :mod:`fakescope.uncertainty.maps` as in-memory PNGs instead of files.

``method``: the uncertainty method per detector; ``"mc_head"`` (the default) when the detector
has head dropout, else ``"none"`` (one pass: epistemic uncertainty is then 0 and the model card
says the detector cannot report it).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from fakescope.data.dataset import resize_to_tensor
from fakescope.errors import ConfigError
from fakescope.models.checkpoint import load_detector
from fakescope.models.device import resolve_device
from fakescope.train.signal_data import is_map_detector


@dataclass(eq=False)
class LoadedDetector:
    """One checkpoint in memory: ``key`` names it in every response."""

    key: str
    path: str
    model: torch.nn.Module
    meta: dict[str, Any]
    version: str
    method: str
    samples: int
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        return int(self.meta["architecture"]["image_size"])

    @property
    def name(self) -> str:
        return str(self.meta["architecture"]["name"])


def weights_version(folder: str | Path) -> str:
    """The first 12 hex digits of the weights' sha256: a version that changes with the weights."""
    h = hashlib.sha256()
    with open(Path(folder) / "model.safetensors", "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def has_head_dropout(model) -> bool:
    drop = getattr(model, "head_dropout", None)
    return drop is not None and float(getattr(drop, "p", 0.0)) > 0


def load_detectors(paths: list[str | Path], *, device: str = "auto", uncertainty: str = "auto",
                   samples: int = 16) -> list[LoadedDetector]:
    """Load every checkpoint (ConfigError/ModelError naming the one that fails).

    ``uncertainty``: ``"auto"`` (mc_head when the head has dropout, else none), ``"none"`` or
    ``"mc_head"``. Map detectors (ppg_map, motion_map) score clips of signal maps, not images:
    they are refused here with the reason.
    """
    from fakescope.serve.cards import model_card

    if uncertainty not in ("auto", "none", "mc_head"):
        raise ConfigError(f"--uncertainty {uncertainty!r}", hint="use auto, none or mc_head")
    dev = resolve_device(device)
    out: list[LoadedDetector] = []
    for p in paths:
        model, meta = load_detector(p, device=dev)
        name = str(meta["architecture"]["name"])
        if is_map_detector(name):
            raise ConfigError(f"{p}: {name} scores signal maps of whole clips; the service "
                              "serves image detectors", hint="score clips with fakescope detect")
        method = uncertainty
        if uncertainty == "auto":
            method = "mc_head" if has_head_dropout(model) else "none"
        key, k = name, 2
        while any(d.key == key for d in out):
            key, k = f"{name}-{k}", k + 1
        det = LoadedDetector(key=key, path=str(p), model=model, meta=meta,
                             version=weights_version(Path(p) if Path(p).is_dir() else
                                                     Path(p).parent),
                             method=method, samples=samples if method != "none" else 1)
        det.card = model_card(det)
        out.append(det)
    return out


def to_input(image: np.ndarray, det: LoadedDetector) -> torch.Tensor:
    """RGB ``uint8 (H, W, 3)`` -> the detector's input ``(3, S, S)`` in [0, 1]."""
    return resize_to_tensor(image, det.image_size)


def score_inputs(det: LoadedDetector, x: torch.Tensor, *, seed: int = 0) -> tuple[list[dict],
                                                                                   np.ndarray]:
    """Score a batch ``x: (N, 3, S, S)`` in [0, 1], each image independently of the others.

    Returns per image ``{"p_fake", "uncertainty": {"total", "aleatoric", "epistemic",
    "variance"}}`` (:func:`~fakescope.uncertainty.decompose.decompose` of its passes, as
    :func:`fakescope.detect.detect_with_uncertainty` computes it) and the per-pass P(fake)
    ``(T, N)``, whose spread the timeline and the band read (``T = 1`` for ``"none"``).

    ``mc_head``: one backbone pass for the whole batch, then each image's ``T`` head passes
    under its own RNG seeded with ``seed``. So an image gets the same answer whatever else
    shares its micro-batch — the answer of ``predict(model, image[None], method="mc_head",
    seed=seed)``, i.e. of ``fakescope detect --uncertainty mc_head`` on that file alone.
    (Sampling the whole batch's masks from one stream, as ``predict`` does for a batch, would
    make a user's answer depend on other users' uploads.)
    """
    from fakescope.models.predict import mc_mode, predict
    from fakescope.uncertainty.decompose import COMPONENTS, decompose

    model = det.model
    if det.method == "none":
        probs = predict(model, x, method="none", batch_size=max(len(x), 1)).probs
    else:
        dev = next(model.parameters()).device
        out = []
        with torch.no_grad(), mc_mode(model, [model.head_dropout]):
            feats = model.features(x.to(dev))
            for i in range(len(x)):
                with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
                    torch.manual_seed(seed)
                    logits = model.forward_heads(feats[i:i + 1].repeat(det.samples, 1))
                logits = logits["detect"] if isinstance(logits, dict) else logits
                out.append(logits.float().softmax(-1).cpu())  # (T, C)
        probs = torch.stack(out, dim=1)  # (T, N, C)
    d = decompose(probs)
    found = [{"p_fake": float(d["p_fake"][i]),
              "uncertainty": {k: float(d[k][i]) for k in COMPONENTS}}
             for i in range(len(d["total"]))]
    return found, (1.0 - probs[..., 0]).numpy()


def overlay_maps(det: LoadedDetector, image: np.ndarray, x: torch.Tensor, *,
                 box: tuple[float, float, float, float] | None = None,
                 matrix: np.ndarray | None = None, crop_size: int = 256,
                 seed: int = 0) -> dict[str, str]:
    """Saliency and uncertainty overlays of one input ``x: (3, S, S)`` drawn on ``image`` at its
    own resolution, as PNG data URLs.

    Where the input came from: the whole image (default), an axis-aligned ``box`` (x0, y0, x1,
    y1), or an aligned face crop of ``crop_size`` px made with the ``(2, 3)`` ``matrix`` (image
    -> crop; the heat map is warped back through its inverse, so it lands on the face).
    ``saliency`` = mean over passes of ``max_c |dP(fake)/dx_c|``; ``uncertainty`` = its variance
    over passes (:func:`fakescope.uncertainty.maps.pixel_maps`).
    """
    from fakescope.uncertainty.maps import overlay, pixel_maps

    maps = pixel_maps(det.model, x[None], method=det.method,
                      samples=det.samples if det.method != "none" else 1, seed=seed)
    h, w = image.shape[:2]
    out = {}
    for kind, key in (("saliency", "mean"), ("uncertainty", "variance")):
        heat = np.asarray(maps[key][0], dtype=np.float32)
        if matrix is not None:
            heat = cv2.resize(heat, (crop_size, crop_size), interpolation=cv2.INTER_LINEAR)
            flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
            full = cv2.warpAffine(heat, np.asarray(matrix, np.float64), (w, h), flags=flags)
            inside = cv2.warpAffine(np.ones_like(heat), np.asarray(matrix, np.float64), (w, h),
                                    flags=flags) > 0.5
            rgb = image.copy()
            if inside.any():
                blended = overlay(image, np.where(inside, full, full[inside].min()))
                rgb[inside] = blended[inside]
        elif box is not None:
            x0, y0, x1, y1 = (int(round(v)) for v in box)
            rgb = image.copy()
            region = rgb[max(y0, 0):y1, max(x0, 0):x1]
            if region.size:
                rgb[max(y0, 0):y1, max(x0, 0):x1] = overlay(region, heat)
        else:
            rgb = overlay(image, heat)
        out[kind] = png_data_url(rgb)
    return out


def png_data_url(rgb: np.ndarray, *, max_side: int = 640) -> str:
    """An RGB image as a ``data:image/png;base64,...`` URL, shrunk to ``max_side`` pixels."""
    h, w = rgb.shape[:2]
    if max(h, w) > max_side:
        s = max_side / max(h, w)
        rgb = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                         interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - cv2 encodes any uint8 RGB array
        raise ValueError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")
