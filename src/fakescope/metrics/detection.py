"""Detection metrics on labels ``y: (N,)`` in {0, 1} (1 = fake) and scores ``s: (N,)`` = P(fake).

- AUC: the Mann-Whitney statistic ``P(s_fake > s_real) + 0.5 P(s_fake = s_real)`` via average
  ranks: ``(sum of ranks of positives - n1 (n1 + 1) / 2) / (n1 n0)``.
- ROC: one point per distinct score (descending), with (0, 0) prepended.
- EER (``eer``, "interpolated"): the error rate where FPR = FNR (= 1 - TPR), linearly
  interpolated between the two ROC points around the crossing. ``eer_nearest`` is the
  convention of DeepfakeBench / PG-FDD (``fpr[argmin |fnr - fpr|]``): the FPR of the ROC point
  nearest the crossing. On few distinct scores the two can differ by up to the gap between
  those points; outputs name which one they give (``eer`` / ``eer_nearest``).
- AP: ``sum_k (R_k - R_{k-1}) P_k`` over distinct thresholds, no interpolation (as scikit-learn).
- Accuracy at a threshold ``t`` (default 0.5): ``y_hat = 1[s >= t]``; balanced accuracy is the
  mean of real accuracy (TNR) and fake accuracy (TPR).

A metric undefined on the input (one class only for AUC/EER/AP, no sample of a class for its
accuracy) is NaN, documented, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import rankdata

from fakescope.metrics.bootstrap import as_clusters, interval, paired_replicates, replicates


def _arrays(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels {y.shape} and scores {s.shape} differ in length")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return y, s


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve; NaN when only one class is present."""
    y, s = _arrays(labels, scores)
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)``, thresholds descending, starting at (0, 0) with ``inf``."""
    y, s = _arrays(labels, scores)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each distinct score
    tps = np.cumsum(y)[last].astype(np.float64)
    fps = (last + 1 - tps).astype(np.float64)
    n1, n0 = y.sum(), len(y) - y.sum()
    tpr = np.r_[0.0, tps / n1] if n1 else np.full(len(last) + 1, np.nan)
    fpr = np.r_[0.0, fps / n0] if n0 else np.full(len(last) + 1, np.nan)
    return fpr, tpr, np.r_[np.inf, s[last]]


def eer(labels, scores) -> float:
    """Equal error rate; NaN when only one class is present."""
    fpr, tpr, _ = roc_curve(labels, scores)
    if np.isnan(fpr).any() or np.isnan(tpr).any():
        return float("nan")
    fnr = 1.0 - tpr
    diff = fnr - fpr  # decreasing from 1 to -1 along the curve
    i = int(np.flatnonzero(diff <= 0)[0])
    if i == 0 or diff[i] == 0:
        return float(fpr[i])
    d0, d1 = diff[i - 1], diff[i]
    w = d0 / (d0 - d1)
    return float(fpr[i - 1] + w * (fpr[i] - fpr[i - 1]))


def eer_nearest(labels, scores) -> float:
    """Nearest-point EER: the FPR of the ROC point where ``|FNR - FPR|`` is smallest (first
    such point), as DeepfakeBench and PG-FDD report it; NaN when only one class is present."""
    fpr, tpr, _ = roc_curve(labels, scores)
    if np.isnan(fpr).any() or np.isnan(tpr).any():
        return float("nan")
    return float(fpr[int(np.argmin(np.abs((1.0 - tpr) - fpr)))])


def average_precision(labels, scores) -> float:
    """Average precision (area under the step precision-recall curve); NaN without positives."""
    y, s = _arrays(labels, scores)
    n1 = y.sum()
    if n1 == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[last]
    precision = tps / (last + 1)
    recall = tps / n1
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _rate(mask: np.ndarray, hits: np.ndarray) -> float:
    return float(hits[mask].mean()) if mask.any() else float("nan")


@dataclass
class DetectionMetrics:
    n: int
    n_real: int
    n_fake: int
    auc: float
    eer: float
    ap: float
    eer_nearest: float
    acc: float
    balanced_acc: float
    real_acc: float
    fake_acc: float
    threshold: float

    def to_dict(self) -> dict:
        return asdict(self)


def detection_metrics(labels, scores, *, threshold: float = 0.5) -> DetectionMetrics:
    """Every frame-level detection metric at once."""
    y, s = _arrays(labels, scores)
    pred = (s >= threshold).astype(np.int64)
    correct = pred == y
    real_acc = _rate(y == 0, correct)
    fake_acc = _rate(y == 1, correct)
    return DetectionMetrics(
        n=len(y), n_real=int((y == 0).sum()), n_fake=int((y == 1).sum()),
        auc=roc_auc(y, s), eer=eer(y, s), ap=average_precision(y, s),
        acc=float(correct.mean()) if len(y) else float("nan"),
        balanced_acc=float(np.nanmean([real_acc, fake_acc])) if len(y) else float("nan"),
        real_acc=real_acc, fake_acc=fake_acc, threshold=float(threshold),
        eer_nearest=eer_nearest(y, s),
    )


def bootstrap_ci(
    metric: Callable[[np.ndarray, np.ndarray], float],
    labels,
    scores,
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    stratified: bool = True,
    clusters=None,
) -> tuple[float, float]:
    """Percentile bootstrap ``(lo, hi)`` of ``metric(y, s)`` at level ``1 - alpha``.

    With ``clusters`` (cluster labels ``(N,)`` or a :class:`~fakescope.metrics.bootstrap.Clusters`,
    e.g. from :func:`~fakescope.metrics.bootstrap.resampling_unit`: identity, video or row)
    whole clusters are resampled, because images of one identity and frames of one video are
    not independent. Without, rows are resampled, stratified by label when ``stratified`` (the
    real/fake counts stay fixed, so AUC stays defined). Resamples where the metric is NaN are
    dropped.
    """
    y, s = _arrays(labels, scores)
    cl = as_clusters(clusters)
    if cl is not None:
        stats = replicates(lambda idx: metric(y[idx], s[idx]), cl, n_boot=n_boot, seed=seed)
    else:
        rng = np.random.default_rng(seed)
        stats = np.empty(n_boot)
        strata = [np.flatnonzero(y == c) for c in (0, 1)] if stratified else [np.arange(len(y))]
        strata = [g for g in strata if len(g)]
        for b in range(n_boot):
            idx = np.concatenate([g[rng.integers(0, len(g), len(g))] for g in strata])
            stats[b] = metric(y[idx], s[idx])
    return interval(stats, ci=1 - alpha)


def paired_difference_ci(
    metric: Callable[[np.ndarray, np.ndarray], float],
    labels,
    scores_a,
    scores_b,
    *,
    clusters,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(diff, lo, hi)`` of ``metric(y, a) - metric(y, b)`` for two methods that scored the
    same rows (``scores_a``, ``scores_b``: ``(N,)``, aligned), with a paired clustered
    percentile bootstrap: each resample draws whole clusters once and recomputes both metrics
    on that draw, so the interval is the difference's own (the test-set luck both methods
    share cancels). Compare methods with this, not by whether two intervals overlap."""
    y, a = _arrays(labels, scores_a)
    _, b = _arrays(labels, scores_b)
    if a.shape != b.shape:
        raise ValueError(f"scores_a {a.shape} and scores_b {b.shape} differ in length")
    cl = as_clusters(clusters)
    reps = paired_replicates(lambda x, idx: metric(y[idx], x[idx]), a, b, cl, n_boot=n_boot,
                             seed=seed)
    return (metric(y, a) - metric(y, b), *interval(reps, ci=1 - alpha))
