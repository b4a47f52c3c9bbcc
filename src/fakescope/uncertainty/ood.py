"""Out-of-distribution flag: how far an input's features lie from the detector's training data.

A detector trained on one benchmark meets data unlike it; its P(fake) and even its epistemic
uncertainty can stay confident there. The flag is a density measure on the detector's own
penultimate features ``f = model.features(x)`` (``(N, D)``, the pooled backbone output the heads
read), fitted at the end of training (:meth:`fakescope.train.engine.Engine.fit`) or later from a
manifest (``fakescope ood-fit``), and stored beside the weights.

Mahalanobis distance to class-conditional Gaussians with a shared covariance (Lee et al.,
NeurIPS 2018), on the training split's features ``f_i`` with classes ``y_i`` of the detect head::

    mu_c  = mean of f_i over y_i = c                                 (C, D)
    Sigma = Ledoit-Wolf shrinkage estimate of {f_i - mu_{y_i}}       (D, D)   (scikit-learn)
    d(f)  = min_c sqrt((f - mu_c)^T Sigma^-1 (f - mu_c))
    tau   = q-quantile of d over the validation split (q = 0.95 by default)
    ood_score = d / tau,   in_distribution = ood_score <= 1

So about ``1 - q`` of in-distribution inputs are flagged by construction (the validation split
was held out of the fit, so its distances are those of unseen in-distribution data). Ledoit-
Wolf keeps ``Sigma`` invertible when ``D`` exceeds the number of training images.

Storage in a checkpoint folder: ``ood.safetensors`` (``means`` (C, D), ``precision`` (D, D),
float32) and ``meta.json["ood"]`` = ``{"method": "mahalanobis", "threshold", "quantile",
"feature_dim", "n_fit": {class: n}, "n_val", "val_distance": {"p50", "p95", "p99"},
"shrinkage", "fitted_on"}``.
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


@dataclass
class OODStats:
    """A fitted Mahalanobis OOD model (see the module doc): ``means (C, D)``, ``precision
    (D, D)``, the distance ``threshold`` tau and the validation ``quantile`` it was set at."""

    means: np.ndarray
    precision: np.ndarray
    threshold: float
    quantile: float = DEFAULT_QUANTILE
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_dim(self) -> int:
        return int(self.means.shape[1])

    def distance(self, feats) -> np.ndarray:
        """``d(f)`` of features ``(N, D)`` -> ``(N,)`` float64 (min over classes)."""
        f = np.asarray(feats, dtype=np.float64)
        if f.ndim != 2 or f.shape[1] != self.feature_dim:
            raise ModelError(f"features of shape {f.shape} do not match the OOD statistics "
                             f"(D = {self.feature_dim})", hint="refit with fakescope ood-fit")
        p = self.precision.astype(np.float64)
        d2 = np.stack([np.einsum("nd,nd->n", (f - m) @ p, f - m)
                       for m in self.means.astype(np.float64)])  # (C, N)
        return np.sqrt(np.clip(d2.min(axis=0), 0.0, None))

    def score(self, feats) -> np.ndarray:
        """``ood_score = d / tau`` ``(N,)``: 1 is the validation ``quantile`` of distances."""
        return self.distance(feats) / self.threshold

    def meta(self) -> dict[str, Any]:
        return {"method": METHOD, "threshold": float(self.threshold),
                "quantile": float(self.quantile), "feature_dim": self.feature_dim, **self.info}


def fit_mahalanobis(train_feats, train_classes, val_feats, *, quantile: float = DEFAULT_QUANTILE,
                    class_names: list[str] | None = None) -> OODStats:
    """Fit the statistics of the module doc.

    ``train_feats``: ``(N, D)``; ``train_classes``: ``(N,)`` int class of each (the detect
    head's: 0 real, 1.. fake classes); ``val_feats``: ``(M, D)`` held-out in-distribution
    features that set the threshold.
    """
    from sklearn.covariance import LedoitWolf

    x = np.asarray(train_feats, dtype=np.float64)
    y = np.asarray(train_classes, dtype=np.int64)
    v = np.asarray(val_feats, dtype=np.float64)
    if not 0 < quantile < 1:
        raise ConfigError(f"quantile must be in (0, 1), got {quantile}")
    if x.ndim != 2 or len(x) < 2 or len(x) != len(y):
        raise DataError(f"need >= 2 training features (N, D) with one class each, got "
                        f"{x.shape} and {y.shape}")
    if len(v) < 1:
        raise DataError("no validation features to set the OOD threshold",
                        hint="the validation split is empty or unreadable")
    if not (np.isfinite(x).all() and np.isfinite(v).all()):
        raise DataError("features contain NaN or inf; the OOD statistics cannot be fitted")
    classes = np.unique(y)
    means = np.stack([x[y == c].mean(axis=0) for c in classes])
    centred = x - means[np.searchsorted(classes, y)]
    lw = LedoitWolf(assume_centered=True).fit(centred)
    stats = OODStats(means.astype(np.float32), lw.precision_.astype(np.float32), 1.0, quantile)
    d = stats.distance(v)
    tau = float(np.quantile(d, quantile))
    if not tau > 0:
        raise DataError("validation features all sit on the class means (distance 0)")
    names = class_names or [str(c) for c in range(int(classes.max()) + 1)]
    stats.threshold = tau
    stats.info = {"n_fit": {names[int(c)]: int((y == c).sum()) for c in classes},
                  "n_val": int(len(v)), "shrinkage": round(float(lw.shrinkage_), 6),
                  "val_distance": {f"p{int(q * 100)}": round(float(np.quantile(d, q)), 6)
                                   for q in (0.5, 0.95, 0.99)}}
    return stats


def save_ood(folder: str | Path, stats: OODStats, **extra) -> Path:
    """Write ``ood.safetensors`` and the ``ood`` entry of ``meta.json`` (atomically each);
    ``extra`` keys join the entry (e.g. ``fitted_on``)."""
    from fakescope.models.checkpoint import read_meta, update_meta

    folder = Path(folder)
    read_meta(folder)  # a checkpoint folder, or a ModelError naming it
    tmp = folder / (FILE + ".tmp")
    save_file({"means": np.ascontiguousarray(stats.means, np.float32),
               "precision": np.ascontiguousarray(stats.precision, np.float32)}, str(tmp))
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
                                                         "feature_dim")}
    return OODStats(arrays["means"], arrays["precision"], float(entry["threshold"]),
                    float(entry.get("quantile", DEFAULT_QUANTILE)), info)


@torch.no_grad()
def features(model, images, *, batch_size: int = 64, device=None) -> np.ndarray:
    """Penultimate features ``(N, D)`` float32 of images ``(N, 3, H, W)`` in [0, 1] (eval mode,
    no dropout: ``model.features``)."""
    if not hasattr(model, "features"):
        raise ModelError(f"{type(model).__name__} has no features(x); the OOD flag needs a "
                         "Detector")
    dev = device or next(model.parameters()).device
    x = torch.as_tensor(images)
    out = []
    was = model.training
    model.eval()
    try:
        for i in range(0, len(x), batch_size):
            out.append(model.features(x[i:i + batch_size].float().to(dev)).float().cpu())
    finally:
        model.train(was)
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


@torch.no_grad()
def dataset_features(model, ds, *, batch_size: int = 64, device=None, num_workers: int = 0,
                     limit: int | None = MAX_FIT, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(features (M, D) float32, classes (M,) int64)`` of the readable items of a dataset
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
            feats.append(features(model, batch["image"], batch_size=batch_size, device=device))
            classes.append(batch["target"].numpy().astype(np.int64))
    finally:
        if augment:
            ds.augment = augment
    if not feats:
        raise DataError("no readable item to compute features on")
    return np.concatenate(feats), np.concatenate(classes)


def fit_detector_ood(model, train_ds, val_ds, *, batch_size: int = 64, device=None,
                     num_workers: int = 0, quantile: float = DEFAULT_QUANTILE,
                     limit: int | None = MAX_FIT, seed: int = 0) -> OODStats:
    """Fit a detector's OOD statistics on its training split ``train_ds`` (class means and
    covariance) and validation split ``val_ds`` (threshold)."""
    xf, yf = dataset_features(model, train_ds, batch_size=batch_size, device=device,
                              num_workers=num_workers, limit=limit, seed=seed)
    vf, _ = dataset_features(model, val_ds, batch_size=batch_size, device=device,
                             num_workers=num_workers, limit=limit, seed=seed)
    return fit_mahalanobis(xf, yf, vf, quantile=quantile,
                           class_names=list(getattr(model, "class_names", []) or []) or None)
