"""Score a batch of detector inputs: P(fake), uncertainty, OOD score and pixel maps.

All go through the one prediction path (:func:`fakescope.models.predict.predict`); the OOD
score reads the penultimate features of the same inputs (:mod:`fakescope.uncertainty.ood`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fakescope.models.predict import load_members, predict
from fakescope.uncertainty.decompose import COMPONENTS, decompose
from fakescope.uncertainty.ood import OODStats, layer_features


def ood_scores(models: list, stats: list[OODStats | None], x: torch.Tensor, *,
               batch_size: int = 32) -> np.ndarray | None:
    """``(N,)`` OOD score of inputs ``x (N, 3, H, W)``: each model's ``d / tau``, averaged over
    an ensemble's members; None when a model has no OOD statistics."""
    if not models or any(s is None for s in stats):
        return None
    return np.mean([s.score(layer_features(m, x, batch_size=batch_size,
                                           stages=len(s.layers) > 1))
                    for m, s in zip(models, stats, strict=True)], axis=0)


def probabilities(models: list, x: torch.Tensor, *, method: str, samples: int, seed: int,
                  batch_size: int) -> torch.Tensor:
    """``(T, N, C)`` class probabilities (``T = 1`` for ``method="none"``)."""
    members = models if method == "ensemble" else models[0]
    return predict(members, x, method=method, samples=samples, seed=seed,
                   batch_size=batch_size).probs


def per_input(probs: torch.Tensor, *, stochastic: bool) -> list[dict]:
    """``[{"p_fake", ["uncertainty"]}]`` per input of ``probs (T, N, C)``."""
    d = decompose(probs)
    return [{"p_fake": float(d["p_fake"][i]),
             **({"uncertainty": {k: float(d[k][i]) for k in COMPONENTS}} if stochastic else {})}
            for i in range(probs.shape[1])]


def map_method_for(model, method: str) -> str:
    """The saliency method of ``--map``: the uncertainty method where it has pixel maps; for
    ``tta`` and ``none``, MC dropout of the head when the head has dropout, else one pass."""
    from fakescope.uncertainty.maps import PIXEL_METHODS

    if method in PIXEL_METHODS and method != "none":
        return method
    drop = getattr(model, "head_dropout", None)
    return "mc_head" if drop is not None and drop.p > 0 and method != "none" else "none"


def pixel_maps_of(models: list, x: torch.Tensor, *, method: str, samples: int, seed: int,
                  batch_size: int) -> dict[str, np.ndarray]:
    """``{"mean": (N, H, W), "variance": (N, H, W)}`` input-gradient saliency over passes."""
    from fakescope.uncertainty.maps import pixel_maps

    model = models if method == "ensemble" else models[0]
    if method != "ensemble":
        method = map_method_for(model, method)
    t = samples if method not in ("none",) else 1
    parts = [pixel_maps(model, x[i:i + batch_size], method=method, samples=t, seed=seed)
             for i in range(0, len(x), batch_size)]
    return {k: np.concatenate([p[k] for p in parts]) for k in ("mean", "variance")}


def detect_with_uncertainty(model, images, *, method: str = "mc_head", samples: int = 32,
                            map_dir: str | Path | None = None, names: list[str] | None = None,
                            batch_size: int = 32, seed: int = 0) -> list[dict]:
    """Score images with uncertainty: one dict per image, in order (no face search: the images
    are detector inputs already).

    ``images``: ``(N, 3, H, W)`` in [0, 1]. Each dict is ``{"p_fake", "uncertainty": {"total",
    "aleatoric", "epistemic", "variance"}}`` (see :mod:`fakescope.uncertainty.decompose`).
    With ``map_dir``, writes ``<name>_saliency.png`` (mean input-gradient saliency over passes)
    and ``<name>_uncertainty.png`` (its variance over passes) overlays at the input's size and
    adds their paths under ``"maps"``. Pixel maps of ``tta`` use ``mc_head`` when the head has
    dropout, else ``none``.
    """
    from fakescope.uncertainty.maps import save_overlay

    models = load_members(model)
    x = torch.as_tensor(images)
    probs = probabilities(models, x, method=method, samples=samples, seed=seed,
                          batch_size=batch_size)
    out = per_input(probs, stochastic=True)
    if map_dir is None:
        return out
    names = names or [f"image_{i:05d}" for i in range(len(out))]
    maps = pixel_maps_of(models, x, method=method, samples=samples, seed=seed,
                         batch_size=batch_size)
    folder = Path(map_dir)
    for k in range(len(out)):
        out[k]["maps"] = {
            "saliency": str(save_overlay(folder / f"{names[k]}_saliency.png", x[k],
                                         maps["mean"][k])),
            "uncertainty": str(save_overlay(folder / f"{names[k]}_uncertainty.png", x[k],
                                            maps["variance"][k]))}
    return out
