"""Detection and uncertainty against perturbation strength: benign and adversarial.

``robustness_sweep(model, images, labels, kinds=..., method="mc_head")`` returns one row per
(kind, strength) — strength 0 is the clean input — with:

- ``auc`` (ROC AUC of P(fake), NaN with one class), ``accuracy`` (P(fake) >= 0.5);
- means of ``p_fake`` and of the uncertainty components ``total``, ``aleatoric``,
  ``epistemic``, ``variance`` (see :mod:`fakescope.uncertainty.decompose`);
- ``wrong_confident``: the share of samples that are misclassified *and* whose total
  uncertainty is below the clean data's ``confident_quantile`` quantile (default the median):
  "attacked but confident", the dangerous case;
- ``unc_rises``: mean total uncertainty above the clean mean (True = the detector notices).

Adversarial images are made against the deterministic model (dropout off), then scored with the
stochastic ``method``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from fakescope.metrics.detection import roc_auc
from fakescope.models.predict import predict_samples
from fakescope.robustness.attacks import attack
from fakescope.robustness.perturb import DEFAULT_LEVELS, PERTURBATIONS, perturb
from fakescope.uncertainty.decompose import COMPONENTS, decompose


def score_row(labels: np.ndarray, probs: torch.Tensor) -> tuple[dict, np.ndarray]:
    """Metrics of samples ``probs (T, N, C)``: the row's numbers and per-sample total uncertainty."""
    d = decompose(probs)
    row = {"auc": roc_auc(labels, d["p_fake"]),
           "accuracy": float(np.mean((d["p_fake"] >= 0.5) == (labels > 0))),
           "p_fake": float(d["p_fake"].mean())}
    row.update({k: float(d[k].mean()) for k in COMPONENTS})
    return row, d


def robustness_sweep(model, images: torch.Tensor, labels, *, kinds=("jpeg", "blur", "noise",
                     "resize", "fgsm", "pgd"), levels: dict | None = None,
                     method: str = "mc_head", samples: int = 16, seed: int = 0,
                     batch_size: int = 64, pgd_steps: int = 10,
                     confident_quantile: float = 0.5) -> pd.DataFrame:
    """The sweep table described in the module doc. ``images: (N, 3, H, W)`` in [0, 1]."""
    labels = np.asarray(labels, dtype=np.int64)
    y = torch.as_tensor(labels)
    dev = next(model.parameters()).device
    levels = {**DEFAULT_LEVELS, **(levels or {})}

    def run(x: torch.Tensor) -> tuple[dict, dict]:
        probs = predict_samples(model, x, method=method, samples=samples, seed=seed,
                                batch_size=batch_size)
        return score_row(labels, probs)

    clean, cd = run(images)
    thr = float(np.quantile(cd["total"], confident_quantile))
    rows = []
    for kind in kinds:
        rows.append({"kind": kind, "strength": 0.0, **clean,
                     "wrong_confident": _wrong_confident(labels, cd, thr), "unc_rises": False})
        for s in levels[kind]:
            if kind in PERTURBATIONS:
                xs = perturb(images, kind, s, seed=seed)
            else:
                parts = [attack(model, images[i:i + batch_size].to(dev),
                                y[i:i + batch_size].to(dev), kind=kind, eps=s, steps=pgd_steps,
                                seed=seed + i).cpu()
                         for i in range(0, len(images), batch_size)]
                xs = torch.cat(parts)
            row, d = run(xs)
            rows.append({"kind": kind, "strength": float(s), **row,
                         "wrong_confident": _wrong_confident(labels, d, thr),
                         "unc_rises": bool(row["total"] > clean["total"])})
    return pd.DataFrame(rows)


def _wrong_confident(labels: np.ndarray, d: dict, thr: float) -> float:
    wrong = (d["p_fake"] >= 0.5) != (labels > 0)
    return float(np.mean(wrong & (d["total"] < thr)))
