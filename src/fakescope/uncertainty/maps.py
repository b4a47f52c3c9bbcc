"""Uncertainty maps: where a detector looks, and where it is unsure.

Region level (occlusion): each region (a grid patch, or a facial region from 68 landmarks) is
filled with the image's mean colour, the occluded images are scored with a stochastic method,
and the table records, per region, the change ``occluded - clean`` of ``p_fake`` and of each
uncertainty component (``total``, ``aleatoric``, ``epistemic``, ``variance``). A large
``delta_p_fake < 0`` on a fake means the region carried the evidence; ``delta_epistemic > 0``
means hiding it leaves the model unsure.

Pixel level: for ``T`` stochastic passes the input-gradient saliency
``s_t(x) = max_channel |dP_t(fake)/dx|`` ``(H, W)``; the maps are the mean over passes (where it
looks) and the variance over passes (where it is unsure where to look).

Localisation: ``localisation_auc(map, mask)`` is the ROC AUC of map values as a score for the
ground-truth manipulated pixels (mask > 0): 1 = the map ranks every manipulated pixel above every
untouched one, 0.5 = chance.

Facial regions use the iBUG 68-point scheme (0-16 jaw, 17-21/22-26 brows, 27-35 nose, 36-41/
42-47 eyes, 48-67 mouth); cheeks are polygons between jaw, nose, mouth and lower eyelid.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from fakescope.errors import ConfigError, DataError
from fakescope.metrics.detection import roc_auc
from fakescope.models.detector import p_fake
from fakescope.models.predict import (
    dropout_modules,
    load_members,
    mc_mode,
    predict_samples,
)
from fakescope.uncertainty.decompose import COMPONENTS, decompose

PIXEL_METHODS = ("none", "mc", "mc_head", "bnn", "ensemble")
_HULLS = {"right_brow": range(17, 22), "left_brow": range(22, 27), "nose": range(27, 36),
          "right_eye": range(36, 42), "left_eye": range(42, 48), "mouth": range(48, 60)}
_POLYS = {"right_cheek": (1, 2, 3, 4, 5, 48, 31, 40, 41, 36),
          "left_cheek": (15, 14, 13, 12, 11, 54, 35, 47, 46, 45)}
FACE_REGIONS = ("right_eye", "left_eye", "right_brow", "left_brow", "nose", "mouth", "jaw",
                "right_cheek", "left_cheek")


# ---------------------------------------------------------------- region masks

def grid_masks(height: int, width: int, grid: int = 4) -> dict[str, np.ndarray]:
    """``grid x grid`` patches as boolean masks ``(H, W)``, keys ``r{row}c{col}``."""
    if grid < 1:
        raise ConfigError(f"grid must be >= 1, got {grid}")
    ys = np.linspace(0, height, grid + 1).round().astype(int)
    xs = np.linspace(0, width, grid + 1).round().astype(int)
    out = {}
    for i in range(grid):
        for j in range(grid):
            m = np.zeros((height, width), bool)
            m[ys[i]:ys[i + 1], xs[j]:xs[j + 1]] = True
            out[f"r{i}c{j}"] = m
    return out


def face_region_masks(landmarks: np.ndarray, height: int, width: int, *,
                      pad: float = 0.04) -> dict[str, np.ndarray]:
    """Facial-region masks ``(H, W)`` from 68 landmarks ``(68, 2)`` (x, y pixels of this image).

    Eyes, brows, nose and mouth are convex hulls dilated by ``pad`` x face width; the jaw is a
    band of that width along points 0-16; cheeks are polygons (see the module doc).
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape != (68, 2):
        raise DataError(f"facial regions need 68 landmarks (68, 2), got {pts.shape}")
    face_w = max(1.0, pts[:, 0].max() - pts[:, 0].min())
    r = max(1, int(round(pad * face_w)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    out = {}
    ipts = np.round(pts).astype(np.int32)
    for name, idx in _HULLS.items():
        m = np.zeros((height, width), np.uint8)
        cv2.fillConvexPoly(m, cv2.convexHull(ipts[list(idx)]), 1)
        out[name] = cv2.dilate(m, kernel) > 0
    jaw = np.zeros((height, width), np.uint8)
    cv2.polylines(jaw, [ipts[0:17].reshape(-1, 1, 2)], False, 1, thickness=2 * r + 1)
    out["jaw"] = jaw > 0
    for name, idx in _POLYS.items():
        m = np.zeros((height, width), np.uint8)
        cv2.fillPoly(m, [ipts[list(idx)].reshape(-1, 1, 2)], 1)
        out[name] = m > 0
    return {k: out[k] for k in FACE_REGIONS}


def scale_landmarks(landmarks: np.ndarray, src_hw: tuple[int, int], dst_hw: tuple[int, int]):
    """Landmarks of an ``src_hw`` image mapped to a resized ``dst_hw`` image."""
    sy, sx = dst_hw[0] / src_hw[0], dst_hw[1] / src_hw[1]
    return np.asarray(landmarks, float) * np.array([sx, sy])


# ---------------------------------------------------------------- occlusion

def occlusion_table(model, image: torch.Tensor, masks: dict[str, np.ndarray], *,
                    method: str = "mc_head", samples: int = 16, seed: int = 0,
                    batch_size: int = 32) -> pd.DataFrame:
    """Per-region change of p_fake and uncertainty when the region is occluded.

    ``image``: ``(3, H, W)`` in [0, 1]; ``masks``: ``{region: bool (H, W)}``. Returns one row per
    region: ``region``, ``area`` (fraction of pixels), ``p_fake`` / components of the occluded
    image, and ``delta_<quantity>`` = occluded - clean. The clean values are in ``df.attrs``.
    """
    if image.ndim != 3:
        raise DataError(f"image must be (3, H, W), got {tuple(image.shape)}")
    names = list(masks)
    fill = image.mean(dim=(1, 2), keepdim=True)
    batch = [image]
    for n in names:
        m = torch.as_tensor(masks[n], device=image.device)
        batch.append(torch.where(m[None], fill, image))
    probs = predict_samples(model, torch.stack(batch), method=method, samples=samples, seed=seed,
                            batch_size=batch_size)
    d = decompose(probs)
    keys = ("p_fake", *COMPONENTS)
    clean = {k: float(d[k][0]) for k in keys}
    rows = []
    for i, n in enumerate(names, start=1):
        row = {"region": n, "area": float(np.mean(masks[n]))}
        row.update({k: float(d[k][i]) for k in keys})
        row.update({f"delta_{k}": float(d[k][i]) - clean[k] for k in keys})
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["clean"] = clean
    return out


def regions_to_map(table: pd.DataFrame, masks: dict[str, np.ndarray], column: str) -> np.ndarray:
    """Paint each region's ``column`` value onto its pixels (mean where regions overlap; 0 off
    every region) -> float ``(H, W)``."""
    shape = next(iter(masks.values())).shape
    acc, cnt = np.zeros(shape), np.zeros(shape)
    for region, value in zip(table["region"], table[column], strict=True):
        m = masks[region]
        acc[m] += value
        cnt[m] += 1
    return np.divide(acc, cnt, out=np.zeros(shape), where=cnt > 0)


# ---------------------------------------------------------------- pixel maps

def saliency_samples(model_or_models, images: torch.Tensor, *, method: str = "mc_head",
                     samples: int = 16, seed: int = 0, head: str = "detect") -> torch.Tensor:
    """Input-gradient saliency per stochastic pass: ``(T, N, H, W)`` float32 on the CPU.

    ``s_t = max_c |dP_t(fake)/dx_c|`` for images ``(N, 3, H, W)`` in [0, 1]. ``method`` in
    ``PIXEL_METHODS``; for ``mc_head`` (and a heads-only BNN) the backbone graph is built once.
    """
    from fakescope.models.bayesian import bayes_sampling, heads_only_bayesian, is_bayesian

    if method not in PIXEL_METHODS:
        raise ConfigError(f"pixel maps support {', '.join(PIXEL_METHODS)}, not {method!r}")
    members = load_members(model_or_models)
    model = members[0]
    dev = next(model.parameters()).device
    x = images.detach().to(dev).float().requires_grad_(True)

    def grad_of(logits, retain):
        pf = p_fake((logits[head] if isinstance(logits, dict) else logits).softmax(-1))
        (g,) = torch.autograd.grad(pf.sum(), x, retain_graph=retain)
        return g.abs().amax(dim=1).detach().float().cpu()

    out = []
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        if method == "ensemble":
            for m in members:
                with mc_mode(m, []):
                    out.append(grad_of(m(x), False))
        elif method == "none":
            with mc_mode(model, []):
                out.append(grad_of(model(x), False))
        elif method == "bnn":
            if not is_bayesian(model):
                raise ConfigError("method 'bnn' needs a Bayesian detector")
            with mc_mode(model, []), bayes_sampling(model):
                if heads_only_bayesian(model):
                    feats = model.features(x)
                    out = [grad_of(model.forward_heads(feats), t < samples - 1)
                           for t in range(samples)]
                else:
                    out = [grad_of(model(x), False) for _ in range(samples)]
        elif method == "mc_head":
            with mc_mode(model, [model.head_dropout]):
                feats = model.features(x)
                out = [grad_of(model.forward_heads(feats), t < samples - 1)
                       for t in range(samples)]
        else:
            with mc_mode(model, dropout_modules(model)):
                out = [grad_of(model(x), False) for _ in range(samples)]
    return torch.stack(out)


def pixel_maps(model_or_models, images: torch.Tensor, **kw) -> dict[str, np.ndarray]:
    """``{"mean": (N, H, W), "variance": (N, H, W)}`` of saliency across stochastic passes."""
    s = saliency_samples(model_or_models, images, **kw).double().numpy()
    return {"mean": s.mean(axis=0), "variance": s.var(axis=0)}


# ---------------------------------------------------------------- images and scores

def _to_uint8_image(image) -> np.ndarray:
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[0] == 3 and a.shape[2] != 3:
        a = a.transpose(1, 2, 0)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    return np.ascontiguousarray(a)


def overlay(image, heat: np.ndarray, *, alpha: float = 0.5) -> np.ndarray:
    """Blend a heat map ``(H, W)`` (min-max scaled, JET colours) over an image -> uint8 RGB."""
    img = _to_uint8_image(image)
    h = np.asarray(heat, dtype=np.float64)
    if h.shape != img.shape[:2]:
        h = cv2.resize(h, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    span = h.max() - h.min()
    h8 = ((h - h.min()) / span * 255).round().astype(np.uint8) if span > 0 else np.zeros(
        h.shape, np.uint8)
    colour = cv2.applyColorMap(h8, cv2.COLORMAP_JET)[..., ::-1]
    return cv2.addWeighted(img, 1 - alpha, np.ascontiguousarray(colour), alpha, 0)


def save_overlay(path: str | Path, image, heat: np.ndarray, *, alpha: float = 0.5) -> Path:
    """Write :func:`overlay` as a PNG (same inputs -> same bytes)."""
    from fakescope.data.images import save_image

    return save_image(path, overlay(image, heat, alpha=alpha))


def localisation_auc(heat: np.ndarray, mask: np.ndarray) -> float:
    """ROC AUC of map values ``(H, W)`` against manipulated pixels ``mask > 0``; NaN if the mask
    is empty or full. A mask of another size is resized (nearest) to the map."""
    heat = np.asarray(heat, dtype=np.float64)
    m = np.asarray(mask)
    if m.ndim == 3:
        m = m.max(axis=2)
    if m.shape != heat.shape:
        m = cv2.resize(m.astype(np.uint8), (heat.shape[1], heat.shape[0]),
                       interpolation=cv2.INTER_NEAREST)
    return roc_auc(m.ravel() > 0, heat.ravel())


def localisation_by_generator(rows: pd.DataFrame, *, source_col: str = "source") -> pd.DataFrame:
    """Mean (and count) of every ``auc_*`` column per generator."""
    cols = [c for c in rows.columns if c.startswith("auc_")]
    g = rows.groupby(source_col)[cols]
    out = g.mean()
    out["n"] = g.size()
    return out.reset_index()
