"""Calibration: ECE, MCE, Brier, NLL, reliability diagrams and temperature scaling.

Two probabilities can be calibrated, and every function says which one it uses:

- ``kind="p_fake"`` (binary, the default): the confidence is P(fake) and the outcome is the label
  (1 = fake). A bin's *accuracy* is the fraction of fakes in it. This is torchmetrics'
  ``binary_calibration_error`` convention.
- ``kind="top_label"`` (multi-class, or binary seen as 2 classes): the confidence is
  ``max_c p_c`` and the outcome is ``argmax_c p_c == y``. This is torchmetrics'
  ``multiclass_calibration_error`` convention.

Binning (``n_bins`` bins, ``strategy``):

- ``"uniform"`` (equal width): bin k holds confidences in ``[k/B, (k+1)/B)``; the last bin is
  closed, ``[(B-1)/B, 1]``. (torchmetrics puts a confidence of exactly 1.0 in an extra bin.)
- ``"quantile"`` (equal mass): samples sorted by confidence (stable sort) and split into ``B``
  groups whose sizes differ by at most one.

With bin k holding ``n_k`` of ``N`` samples, mean confidence ``conf_k`` and mean outcome
``acc_k``: ``ECE = sum_k n_k / N * |acc_k - conf_k|``; ``MCE = max_k |acc_k - conf_k|`` over
non-empty bins. ``Brier`` (binary) = ``mean (p_fake - y)^2``; (multi-class) =
``mean_i sum_c (p_ic - 1[y_i = c])^2``. ``NLL`` = ``-mean_i log p_{i, y_i}`` (natural log,
probabilities clipped to ``[1e-15, 1 - 1e-15]`` as scikit-learn does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fakescope.errors import DataError

KINDS = ("p_fake", "top_label")
STRATEGIES = ("uniform", "quantile")
_CLIP = 1e-15


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.array(x, dtype=np.float64)  # a copy: pandas may hand out read-only views


def as_class_probs(probs) -> np.ndarray:
    """``(N,)`` P(fake) or ``(N, C)`` class probabilities -> ``(N, C)`` float64 (class 0 = real)."""
    p = _np(probs)
    if p.ndim == 1:
        p = np.stack([1.0 - p, p], axis=1)
    if p.ndim != 2 or p.shape[1] < 2:
        raise DataError(f"probabilities must be (N,) or (N, C>=2), got shape {p.shape}")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1 + 1e-6:
        raise DataError("probabilities must be finite and in [0, 1]")
    return p


def confidence_outcome(probs, labels, *, kind: str = "p_fake") -> tuple[np.ndarray, np.ndarray]:
    """Confidence and 0/1 outcome per sample, both ``(N,)``.

    ``probs``: ``(N,)`` P(fake) or ``(N, C)`` class probabilities. ``labels``: ``(N,)`` ints; for
    ``kind="p_fake"`` they are 0 real / 1 fake (any class > 0 counts as fake), for
    ``kind="top_label"`` they are class indices.
    """
    if kind not in KINDS:
        raise DataError(f"unknown calibration kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    p = as_class_probs(probs)
    y = np.asarray(_np(labels), dtype=np.int64)
    if y.shape != (p.shape[0],):
        raise DataError(f"labels shape {y.shape} does not match {p.shape[0]} samples")
    if kind == "p_fake":
        return 1.0 - p[:, 0], (y > 0).astype(np.float64)
    return p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)


def bin_indices(conf: np.ndarray, *, n_bins: int = 15, strategy: str = "uniform") -> np.ndarray:
    """Bin index in ``[0, n_bins)`` of each confidence ``(N,)`` (see the module doc)."""
    if n_bins < 1:
        raise DataError(f"n_bins must be >= 1, got {n_bins}")
    if strategy not in STRATEGIES:
        raise DataError(f"unknown binning {strategy!r}", hint=f"use one of {', '.join(STRATEGIES)}")
    conf = np.asarray(conf, dtype=np.float64)
    if strategy == "uniform":
        return np.clip(np.floor(conf * n_bins).astype(np.int64), 0, n_bins - 1)
    idx = np.empty(len(conf), dtype=np.int64)
    for k, part in enumerate(np.array_split(np.argsort(conf, kind="stable"), n_bins)):
        idx[part] = k
    return idx


def reliability_table(probs, labels, *, kind: str = "p_fake", n_bins: int = 15,
                      strategy: str = "uniform") -> pd.DataFrame:
    """Reliability-diagram data: one row per bin (empty bins included, with NaN means).

    Columns: ``bin``, ``lo``, ``hi`` (edges; for equal-mass bins the min/max confidence inside),
    ``count``, ``confidence`` (mean), ``accuracy`` (mean outcome), ``gap`` = accuracy - confidence.
    """
    conf, out = confidence_outcome(probs, labels, kind=kind)
    idx = bin_indices(conf, n_bins=n_bins, strategy=strategy)
    count = np.bincount(idx, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=n_bins) / count
        mean_acc = np.bincount(idx, weights=out, minlength=n_bins) / count
    if strategy == "uniform":
        lo = np.arange(n_bins) / n_bins
        hi = np.arange(1, n_bins + 1) / n_bins
    else:
        lo = np.array([conf[idx == k].min() if count[k] else np.nan for k in range(n_bins)])
        hi = np.array([conf[idx == k].max() if count[k] else np.nan for k in range(n_bins)])
    return pd.DataFrame({"bin": np.arange(n_bins), "lo": lo, "hi": hi, "count": count.astype(int),
                         "confidence": mean_conf, "accuracy": mean_acc,
                         "gap": mean_acc - mean_conf})


def ece(probs, labels, *, kind: str = "p_fake", n_bins: int = 15, strategy: str = "uniform") -> float:
    """Expected calibration error ``sum_k n_k/N |acc_k - conf_k|`` (see the module doc)."""
    t = reliability_table(probs, labels, kind=kind, n_bins=n_bins, strategy=strategy)
    t = t[t["count"] > 0]
    return float((t["count"] / t["count"].sum() * t["gap"].abs()).sum())


def mce(probs, labels, *, kind: str = "p_fake", n_bins: int = 15, strategy: str = "uniform") -> float:
    """Maximum calibration error ``max_k |acc_k - conf_k|`` over non-empty bins."""
    t = reliability_table(probs, labels, kind=kind, n_bins=n_bins, strategy=strategy)
    return float(t.loc[t["count"] > 0, "gap"].abs().max())


def brier(probs, labels) -> float:
    """Brier score: binary ``(N,)`` P(fake) -> ``mean (p - y)^2``; ``(N, C)`` -> multi-class sum.

    For ``(N, 2)`` input the binary form on ``p[:, 1]`` is used (equal to half the 2-class sum),
    as scikit-learn's ``brier_score_loss`` does.
    """
    p = as_class_probs(probs)
    y = np.asarray(_np(labels), dtype=np.int64)
    if p.shape[1] == 2:
        return float(np.mean((p[:, 1] - (y > 0)) ** 2))
    onehot = np.eye(p.shape[1])[y]
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def nll(probs, labels) -> float:
    """Negative log-likelihood ``-mean log p_{i, y_i}`` (natural log), as sklearn's log_loss.

    Rows are renormalised to sum 1 after clipping, like scikit-learn.
    """
    p = np.clip(as_class_probs(probs), _CLIP, 1 - _CLIP)
    p = p / p.sum(axis=1, keepdims=True)
    y = np.asarray(_np(labels), dtype=np.int64)
    if p.shape[1] == 2:
        y = (y > 0).astype(np.int64)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


@dataclass
class CalibrationResult:
    """Numbers of one calibration evaluation (``kind`` says which probability)."""

    kind: str
    strategy: str
    n_bins: int
    n: int
    ece: float
    mce: float
    brier: float
    nll: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def calibration_summary(probs, labels, *, n_bins: int = 15,
                        strategies: tuple[str, ...] = STRATEGIES) -> list[CalibrationResult]:
    """ECE/MCE for each kind x binning strategy, with Brier and NLL (these do not bin).

    ``probs``: ``(N,)`` P(fake) or ``(N, C)``; labels are class indices (0 = real).
    """
    out = []
    b, ll = brier(probs, labels), nll(probs, labels)
    for kind in KINDS:
        for s in strategies:
            out.append(CalibrationResult(kind, s, n_bins, len(_np(labels)),
                                         ece(probs, labels, kind=kind, n_bins=n_bins, strategy=s),
                                         mce(probs, labels, kind=kind, n_bins=n_bins, strategy=s),
                                         b, ll))
    return out


def plot_reliability(table: pd.DataFrame, path: str | Path, *, title: str = "") -> Path:
    """Save a reliability diagram PNG (bars = accuracy per bin, diagonal = perfect calibration)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t = table[table["count"] > 0]
    fig, ax = plt.subplots(figsize=(4.2, 4.2), dpi=100)
    ax.plot([0, 1], [0, 1], "--", color="#888", lw=1)
    ax.bar(t["confidence"], t["accuracy"], width=1.0 / max(len(table), 1), alpha=0.7,
           edgecolor="#274b8f", color="#7fa3e0", label="outcome frequency")
    ax.plot(t["confidence"], t["accuracy"], "o-", color="#274b8f", ms=3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean confidence")
    ax.set_ylabel("mean outcome")
    ax.set_title(title or "reliability")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path


# ---------------------------------------------------------------- temperature scaling


T_RANGE = (0.01, 100.0)


def fit_temperature(logits, labels, *, max_iter: int = 200) -> float:
    """Temperature ``T > 0`` minimising ``NLL(softmax(logits / T), labels)`` on validation data.

    ``logits``: ``(N, C)`` (``(N,)`` binary logits are read as ``[0, z]``); labels ``(N,)``
    class indices. Optimises ``log T`` with LBFGS (so T stays positive), starting at T = 1,
    within ``T_RANGE`` (logits that carry no information push T toward infinity; the bound
    keeps the answer finite: T = 100 means "flatten to uniform").
    """
    z = torch.as_tensor(_np(logits))
    if z.ndim == 1:
        z = torch.stack([torch.zeros_like(z), z], dim=1)
    y = torch.as_tensor(np.asarray(_np(labels), dtype=np.int64))
    if z.ndim != 2 or z.shape[0] != y.shape[0] or z.shape[0] == 0:
        raise DataError(f"logits {tuple(z.shape)} and labels {tuple(y.shape)} do not match")
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    lo, hi = (float(np.log(v)) for v in T_RANGE)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / log_t.clamp(lo, hi).exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(min(max(float(log_t.detach().exp()), T_RANGE[0]), T_RANGE[1]))


def apply_temperature(logits, temperature: float) -> np.ndarray:
    """``softmax(logits / T)`` as ``(N, C)`` probabilities (``(N,)`` logits read as ``[0, z]``)."""
    z = torch.as_tensor(_np(logits))
    if z.ndim == 1:
        z = torch.stack([torch.zeros_like(z), z], dim=1)
    return torch.softmax(z / float(temperature), dim=1).numpy()
