"""Out-of-distribution flag: how far an input's features lie from the detector's training data.

A detector trained on one benchmark meets data unlike it; its P(fake) and even its epistemic
uncertainty can stay confident there. The flag is a density measure on the detector's own
features, fitted at the end of training (:meth:`fakescope.train.engine.Engine.fit`) or later
from a manifest (``fakescope ood-fit``), and stored beside the weights.

Features (:func:`layer_features`): the penultimate features ``model.features(x)`` ``(N, D)``
and, for convolutional backbones, each stage's output averaged over space ``(N, C_l)`` (the
last module output at each spatial resolution, found with forward hooks; Lee et al. 2018
combine layers the same way). The penultimate layer alone misses a lot: a detector's last
features are trained to be invariant to what is not a manipulation, so a cat photo or another
camera can land near the class means (measured in docs/inference.md: AUROC 0.51 for an unseen
SynthFaces domain from the penultimate layer, 1.00 from the stages).

Per layer ``l``, Mahalanobis distance to class-conditional Gaussians with a shared covariance
(Lee et al., NeurIPS 2018), on the training split's features ``f_i`` with classes ``y_i`` of
the detect head::

    mu_c    = mean of f_i over y_i = c                                 (C, D_l)
    Sigma   = Ledoit-Wolf shrinkage estimate of {f_i - mu_{y_i}}       (D_l, D_l)  (scikit-learn)
    d_l(f)  = min_c sqrt((f - mu_c)^T Sigma^-1 (f - mu_c))
    s_l     = q-quantile of d_l over the validation split
    D(x)    = mean_l d_l(f_l(x)) / s_l                    (each layer on the same scale)
    tau     = q-quantile of D over the validation split (q = 0.95 by default)
    ood_score = D / tau,   in_distribution = ood_score <= 1

So about ``1 - q`` of in-distribution inputs are flagged by construction (the validation split
was held out of the fit, so its distances are those of unseen in-distribution data). Ledoit-
Wolf keeps ``Sigma`` invertible when ``D_l`` exceeds the number of training images.

Storage in a checkpoint folder: ``ood.safetensors`` (``means.<layer>`` (C, D_l),
``precision.<layer>`` (D_l, D_l), float32) and ``meta.json["ood"]`` = ``{"method":
"mahalanobis", "threshold", "quantile", "layers": [{"name", "dim", "scale"}], "n_fit":
{class: n}, "n_val", "fitted_on"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from fakescope.errors import ConfigError, DataError, ModelError

FILE = "ood.safetensors"
METHOD = "mahalanobis"
DEFAULT_QUANTILE = 0.95
MAX_FIT = 20000
PENULTIMATE = "penultimate"


@dataclass
class LayerStats:
    """One layer's Gaussians: ``means (C, D)``, shared ``precision (D, D)``, and ``scale``
    (the validation quantile of its distances) that puts layers on one scale."""

    name: str
    means: np.ndarray
    precision: np.ndarray
    scale: float = 1.0

    def distance(self, feats) -> np.ndarray:
        """``d(f)`` of features ``(N, D)`` -> ``(N,)`` float64 (min over classes)."""
        f = np.asarray(feats, dtype=np.float64)
        if f.ndim != 2 or f.shape[1] != self.means.shape[1]:
            raise ModelError(f"features of shape {f.shape} do not match the OOD statistics of "
                             f"{self.name} (D = {self.means.shape[1]})",
                             hint="refit with fakescope ood-fit")
        p = self.precision.astype(np.float64)
        d2 = np.stack([np.einsum("nd,nd->n", (f - m) @ p, f - m)
                       for m in self.means.astype(np.float64)])  # (C, N)
        return np.sqrt(np.clip(d2.min(axis=0), 0.0, None))


@dataclass
class OODStats:
    """Fitted OOD statistics (see the module doc): per-layer Gaussians, the threshold ``tau``
    of the combined distance and the validation ``quantile`` it was set at."""

    layers: list[LayerStats]
    threshold: float
    quantile: float = DEFAULT_QUANTILE
    info: dict[str, Any] = field(default_factory=dict)

    def combined(self, feats) -> np.ndarray:
        """``D(x) = mean_l d_l / s_l`` ``(N,)``; ``feats``: {layer: (N, D_l)}, or one array
        when there is one layer."""
        if not isinstance(feats, dict):
            if len(self.layers) != 1:
                raise ModelError("these OOD statistics need features of several layers")
            feats = {self.layers[0].name: feats}
        missing = [ls.name for ls in self.layers if ls.name not in feats]
        if missing:
            raise ModelError(f"no features of layer(s) {missing} (the input size or the "
                             "architecture differs from the fit)", hint="refit with fakescope "
                             "ood-fit")
        return np.mean([ls.distance(feats[ls.name]) / ls.scale for ls in self.layers], axis=0)

    def score(self, feats) -> np.ndarray:
        """``ood_score = D / tau`` ``(N,)``: 1 is the validation ``quantile``."""
        return self.combined(feats) / self.threshold

    def meta(self) -> dict[str, Any]:
        return {"method": METHOD, "threshold": float(self.threshold),
                "quantile": float(self.quantile),
                "layers": [{"name": ls.name, "dim": int(ls.means.shape[1]),
                            "scale": float(ls.scale)} for ls in self.layers], **self.info}


def _gaussians(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    from sklearn.covariance import LedoitWolf

    classes = np.unique(y)
    means = np.stack([x[y == c].mean(axis=0) for c in classes])
    lw = LedoitWolf(assume_centered=True).fit(x - means[np.searchsorted(classes, y)])
    return means, lw.precision_, float(lw.shrinkage_)


def fit_ood(train_feats: dict[str, np.ndarray], train_classes, val_feats: dict[str, np.ndarray],
            *, quantile: float = DEFAULT_QUANTILE, class_names: list[str] | None = None,
            ) -> OODStats:
    """Fit the statistics of the module doc from per-layer features.

    ``train_feats``: {layer: ``(N, D_l)``}; ``train_classes``: ``(N,)`` int class of each (the
    detect head's: 0 real, 1.. fake classes); ``val_feats``: {layer: ``(M, D_l)``} of held-out
    in-distribution inputs, which set each layer's scale and the threshold.
    """
    y = np.asarray(train_classes, dtype=np.int64)
    if not 0 < quantile < 1:
        raise ConfigError(f"quantile must be in (0, 1), got {quantile}")
    layers, shrink = [], {}
    for name, x in train_feats.items():
        x = np.asarray(x, dtype=np.float64)
        v = np.asarray(val_feats[name], dtype=np.float64)
        if x.ndim != 2 or len(x) < 2 or len(x) != len(y):
            raise DataError(f"need >= 2 training features (N, D) with one class each, got "
                            f"{x.shape} and {y.shape}")
        if len(v) < 1:
            raise DataError("no validation features to set the OOD threshold",
                            hint="the validation split is empty or unreadable")
        if not (np.isfinite(x).all() and np.isfinite(v).all()):
            raise DataError("features contain NaN or inf; the OOD statistics cannot be fitted")
        means, precision, shrink[name] = _gaussians(x, y)
        ls = LayerStats(name, means.astype(np.float32), precision.astype(np.float32))
        scale = float(np.quantile(ls.distance(v), quantile))
        if not scale > 0:
            raise DataError(f"validation features of {name} all sit on the class means")
        ls.scale = scale
        layers.append(ls)
    stats = OODStats(layers, 1.0, quantile)
    d = stats.combined(val_feats)
    stats.threshold = float(np.quantile(d, quantile))
    names = class_names or [str(c) for c in range(int(y.max()) + 1)]
    stats.info = {"n_fit": {names[int(c)]: int((y == c).sum()) for c in np.unique(y)},
                  "n_val": int(len(d)), "shrinkage": {k: round(v, 6) for k, v in shrink.items()}}
    return stats


def fit_mahalanobis(train_feats, train_classes, val_feats, *, quantile: float = DEFAULT_QUANTILE,
                    class_names: list[str] | None = None) -> OODStats:
    """:func:`fit_ood` on one layer's features ``(N, D)`` / ``(M, D)``."""
    return fit_ood({PENULTIMATE: train_feats}, train_classes, {PENULTIMATE: val_feats},
                   quantile=quantile, class_names=class_names)


def save_ood(folder: str | Path, stats: OODStats, **extra) -> Path:
    """Write ``ood.safetensors`` and the ``ood`` entry of ``meta.json`` (atomically each);
    ``extra`` keys join the entry (e.g. ``fitted_on``)."""
    from fakescope.models.checkpoint import read_meta, update_meta

    folder = Path(folder)
    read_meta(folder)  # a checkpoint folder, or a ModelError naming it
    tmp = folder / (FILE + ".tmp")
    arrays = {}
    for ls in stats.layers:
        arrays[f"means.{ls.name}"] = np.ascontiguousarray(ls.means, np.float32)
        arrays[f"precision.{ls.name}"] = np.ascontiguousarray(ls.precision, np.float32)
    save_file(arrays, str(tmp))
    tmp.replace(folder / FILE)
    update_meta(folder, ood={**stats.meta(), **extra})
    return folder / FILE


def load_ood(folder: str | Path, meta: dict | None = None) -> OODStats | None:
    """The OOD statistics of a checkpoint folder, or None when it has none (trained before
    the flag existed: ``fakescope ood-fit`` adds them)."""
    folder = Path(folder)
    folder = folder.parent if folder.is_file() else folder
    if meta is None:
        meta_path = folder / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    entry = meta.get("ood")
    if not entry or not (folder / FILE).is_file():
        return None
    if entry.get("method") != METHOD:
        raise ModelError(f"unknown OOD method {entry.get('method')!r}", path=folder / "meta.json")
    try:
        arrays = load_file(str(folder / FILE))
    except Exception as exc:
        raise ModelError(f"cannot read the OOD statistics: {exc}", path=folder / FILE) from exc
    info = {k: v for k, v in entry.items() if k not in ("method", "threshold", "quantile",
                                                         "layers")}
    try:
        layers = [LayerStats(la["name"], arrays[f"means.{la['name']}"],
                             arrays[f"precision.{la['name']}"], float(la["scale"]))
                  for la in entry["layers"]]
    except KeyError as exc:
        raise ModelError(f"OOD statistics lack {exc}", path=folder / FILE,
                         hint="refit with fakescope ood-fit") from exc
    return OODStats(layers, float(entry["threshold"]),
                    float(entry.get("quantile", DEFAULT_QUANTILE)), info)


@torch.no_grad()
def layer_features(model, images, *, batch_size: int = 64, device=None,
                   stages: bool = True) -> dict[str, np.ndarray]:
    """Features of images ``(N, 3, H, W)`` in [0, 1] (eval mode, no dropout): ``{"stage<k>_
    <h>x<w>": (N, C_k), ..., "penultimate": (N, D)}`` float32. Stages: the last 4-D output of
    the backbone at each spatial resolution larger than 1 x 1, averaged over space (none for a
    backbone without 4-D outputs, e.g. a transformer or a handcrafted one)."""
    if not hasattr(model, "features"):
        raise ModelError(f"{type(model).__name__} has no features(x); the OOD flag needs a "
                         "Detector")
    dev = device or next(model.parameters()).device
    x = torch.as_tensor(images)
    backbone = getattr(model, "backbone", None)
    out: dict[str, list[np.ndarray]] = {}
    was = model.training
    model.eval()
    try:
        for i in range(0, len(x), batch_size):
            seen: dict[tuple[int, int], torch.Tensor] = {}

            def hook(_m, _i, o, seen=seen):
                if isinstance(o, torch.Tensor) and o.ndim == 4 and o.shape[-1] * o.shape[-2] > 1:
                    seen[tuple(o.shape[-2:])] = o.float().mean((2, 3))

            hooks = [m.register_forward_hook(hook) for m in backbone.modules()
                     if m is not backbone] if (stages and isinstance(backbone, torch.nn.Module)) \
                else []
            try:
                pen = model.features(x[i:i + batch_size].float().to(dev)).float()
            finally:
                for h in hooks:
                    h.remove()
            order = sorted(seen, key=lambda hw: -hw[0] * hw[1])
            for k, hw in enumerate(order):
                out.setdefault(f"stage{k}_{hw[0]}x{hw[1]}", []).append(seen[hw].cpu().numpy())
            out.setdefault(PENULTIMATE, []).append(pen.cpu().numpy())
    finally:
        model.train(was)
    return {k: np.concatenate(v) for k, v in out.items()}


def features(model, images, *, batch_size: int = 64, device=None) -> np.ndarray:
    """Penultimate features ``(N, D)`` float32 (``model.features`` in eval mode)."""
    return layer_features(model, images, batch_size=batch_size, device=device,
                          stages=False)[PENULTIMATE]


@torch.no_grad()
def dataset_features(model, ds, *, batch_size: int = 64, device=None, num_workers: int = 0,
                     limit: int | None = MAX_FIT, seed: int = 0,
                     ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``({layer: (M, D_l) float32}, classes (M,) int64)`` (:func:`layer_features`) of the
    readable items of a dataset
    that yields ``{"image", "target", ...}`` dicts (ManifestDataset, SignalMapDataset), with its
    augmentation off; at most ``limit`` items (a seeded random subset)."""
    from torch.utils.data import DataLoader, Subset

    from fakescope.data.dataset import collate_skip

    idx = np.arange(len(ds))
    if limit is not None and len(idx) > limit:
        idx = np.sort(np.random.default_rng(seed).choice(idx, limit, replace=False))
    augment = getattr(ds, "augment", None)
    if augment:
        ds.augment = False
    feats, classes = [], []
    try:
        loader = DataLoader(Subset(ds, idx.tolist()), batch_size=batch_size, shuffle=False,
                            collate_fn=collate_skip, num_workers=num_workers)
        for batch in loader:
            if batch is None:
                continue
            feats.append(layer_features(model, batch["image"], batch_size=batch_size,
                                        device=device))
            classes.append(batch["target"].numpy().astype(np.int64))
    finally:
        if augment:
            ds.augment = augment
    if not feats:
        raise DataError("no readable item to compute features on")
    return ({k: np.concatenate([f[k] for f in feats]) for k in feats[0]},
            np.concatenate(classes))


def fit_detector_ood(model, train_ds, val_ds, *, batch_size: int = 64, device=None,
                     num_workers: int = 0, quantile: float = DEFAULT_QUANTILE,
                     limit: int | None = MAX_FIT, seed: int = 0) -> OODStats:
    """Fit a detector's OOD statistics on its training split ``train_ds`` (class means and
    covariance) and validation split ``val_ds`` (threshold)."""
    xf, yf = dataset_features(model, train_ds, batch_size=batch_size, device=device,
                              num_workers=num_workers, limit=limit, seed=seed)
    vf, _ = dataset_features(model, val_ds, batch_size=batch_size, device=device,
                             num_workers=num_workers, limit=limit, seed=seed)
    return fit_ood(xf, yf, vf, quantile=quantile,
                   class_names=list(getattr(model, "class_names", []) or []) or None)
