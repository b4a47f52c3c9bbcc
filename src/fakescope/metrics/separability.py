"""fakescope's backbone separability: how well frozen features separate real from fake.

The measure of Nguyen et al. (IJCB 2023) is not public; this is fakescope's own, documented in
docs/separability.md. For features ``X: (N, D)``, real/fake labels ``y: (N,)`` and sources
``s: (N,)`` ("real" or a generator name):

1. standardise: ``Z = (X - mean) / std`` per feature (constant features get std 1);
2. optionally project on the first ``pca`` principal components of ``Z``;
3. k-means (seeded, ``n_init`` restarts) with k = 2 against ``y`` and k = #sources against ``s``:
   adjusted mutual information (AMI), adjusted Rand index (ARI), purity;
4. silhouette of the true labels ``y`` in that space;
5. supervised references on ``X``: cross-validated (stratified, grouped by identity when given)
   logistic-regression AUC and k-nearest-neighbour accuracy.

Confidence intervals: *half-sampling* (a delete-d jackknife, Shao & Wu 1989). Each draw takes
``m`` of the ``n`` clusters (identities when ``groups`` are given, else samples) *without*
replacement (``subsample`` = m/n, default 0.5) and recomputes everything from the raw features:
standardisation, PCA, k-means and silhouette are refitted on the draw; the supervised
references are recomputed on the draw's out-of-fold predictions. With replacement, a resample
would hold duplicated points, which sit at distance 0 from each other and inflate the
silhouette and the cluster agreement (estimates fell outside their own intervals). The spread of
a statistic on ``m`` of ``n`` units estimates its spread on ``n`` after scaling by
``sqrt(m / (n - m))`` (1 for half-samples), and a statistic on fewer points is biased (k-means
and silhouette depend on N), so the interval is centred on the full-data estimate::

    [theta + sqrt(m/(n-m)) (q_lo - mean*), theta + sqrt(m/(n-m)) (q_hi - mean*)]

with ``q_lo, q_hi`` the ``(1 -+ ci) / 2`` quantiles of the draws and ``mean*`` their mean.

Chance levels (:func:`chance_levels`, reported beside each score): AMI, ARI and silhouette 0;
probe AUC 0.5; purity and kNN accuracy the largest class share, i.e. what one cluster or a
constant prediction gets: ``max(n_real, n_fake) / N`` for ``purity_binary`` (``G / (G + 1)``
with real:fake = 1:G, not 0.5) and the largest source's share for ``purity_source``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    adjusted_mutual_info_score,
    adjusted_rand_score,
    silhouette_score,
)
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fakescope.metrics.detection import roc_auc

METRICS = ("ami_binary", "ari_binary", "purity_binary", "ami_source", "ari_source",
           "purity_source", "silhouette", "probe_auc", "knn_accuracy")


@dataclass
class SeparabilityResult:
    """Separability of one feature set; ``ci[metric] = (low, high)`` bootstrap interval."""

    n_samples: int
    n_features: int
    n_components: int
    n_sources: int
    ami_binary: float
    ari_binary: float
    purity_binary: float
    ami_source: float
    ari_source: float
    purity_source: float
    silhouette: float
    probe_auc: float
    knn_accuracy: float
    seed: int
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    chance: dict[str, float] = field(default_factory=dict)
    resampled: str = ""  # what the intervals subsample, e.g. "identity (40 of 80 per draw)"

    def as_row(self) -> dict[str, Any]:
        """Flat dict: every metric plus ``<metric>_lo`` / ``<metric>_hi`` / ``<metric>_chance``."""
        row = {k: v for k, v in asdict(self).items() if k not in ("ci", "chance")}
        for m in METRICS:
            lo, hi = self.ci.get(m, (np.nan, np.nan))
            row[f"{m}_lo"], row[f"{m}_hi"] = lo, hi
            row[f"{m}_chance"] = self.chance.get(m, np.nan)
        return row


def standardize(x: np.ndarray) -> np.ndarray:
    """(N, D) -> (N, D) with zero mean and unit variance per column (constant columns -> 0)."""
    x = np.asarray(x, np.float64)
    std = x.std(0)
    return (x - x.mean(0)) / np.where(std > 0, std, 1.0)


def reduce_dim(z: np.ndarray, n_components: int | None, *, seed: int = 0) -> np.ndarray:
    """First ``n_components`` principal components of (N, D) ``z`` (unchanged if None or
    ``D <= n_components``); capped at ``N - 1``. Returns (N, K)."""
    n, d = z.shape
    if not n_components or d <= n_components:
        return z
    k = max(1, min(int(n_components), n - 1, d))
    return PCA(n_components=k, svd_solver="full", random_state=seed).fit_transform(z)


def purity(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """``(1/N) sum_c max_l |{i : pred_i = c, true_i = l}|`` over clusters c."""
    t = np.unique(np.asarray(labels_true), return_inverse=True)[1]
    p = np.unique(np.asarray(labels_pred), return_inverse=True)[1]
    table = np.zeros((p.max() + 1, t.max() + 1), np.int64)
    np.add.at(table, (p, t), 1)
    return float(table.max(1).sum() / len(t))


def kmeans_labels(z: np.ndarray, k: int, *, seed: int = 0, n_init: int = 10) -> np.ndarray:
    """Seeded k-means cluster index of each row of (N, D) ``z`` -> (N,)."""
    k = max(1, min(k, len(np.unique(z, axis=0))))
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(z)


def cluster_agreement(z: np.ndarray, labels: np.ndarray, k: int, *, seed: int = 0,
                      n_init: int = 10) -> tuple[float, float, float]:
    """k-means on (N, D) ``z`` vs true ``labels: (N,)`` -> (AMI, ARI, purity)."""
    pred = kmeans_labels(z, k, seed=seed, n_init=n_init)
    return (float(adjusted_mutual_info_score(labels, pred)),
            float(adjusted_rand_score(labels, pred)), purity(labels, pred))


def _folds(y: np.ndarray, groups: np.ndarray | None, n_folds: int, seed: int):
    n_min = int(np.bincount(y).min()) if len(np.unique(y)) == 2 else 0
    k = min(n_folds, n_min)
    if k < 2:
        return None
    if groups is not None and len(np.unique(groups)) >= k:
        return StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(
            np.zeros(len(y)), y, groups)
    return StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)


def out_of_fold(x: np.ndarray, y: np.ndarray, *, groups: np.ndarray | None = None,
                n_folds: int = 5, knn_k: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cross-validated predictions of the supervised references.

    ``x: (N, D)``, ``y: (N,)`` 0/1 -> (linear-probe score (N,), kNN predicted label (N,)), both
    out-of-fold; each fold standardises on its training part only. NaN where no fold exists.
    """
    y = np.asarray(y).astype(np.int64)
    score = np.full(len(y), np.nan)
    knn = np.full(len(y), np.nan)
    splits = _folds(y, groups, n_folds, seed)
    if splits is None:
        return score, knn
    for tr, te in splits:
        if len(np.unique(y[tr])) < 2:
            continue
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
        score[te] = probe.fit(x[tr], y[tr]).decision_function(x[te])
        nn_ = make_pipeline(StandardScaler(),
                            KNeighborsClassifier(n_neighbors=max(1, min(knn_k, len(tr)))))
        knn[te] = nn_.fit(x[tr], y[tr]).predict(x[te])
    return score, knn


def _scored_auc(y: np.ndarray, s: np.ndarray) -> float:
    """:func:`~fakescope.metrics.detection.roc_auc` over the samples that have an out-of-fold
    score (``s`` is NaN where a fold was skipped); NaN when one class is left."""
    ok = ~np.isnan(s)
    return roc_auc(y[ok], s[ok])


def _acc(y: np.ndarray, pred: np.ndarray) -> float:
    ok = ~np.isnan(pred)
    return float(np.mean(pred[ok] == y[ok])) if ok.any() else float("nan")


def _unsupervised(z, y, s_codes, k_src, seed, n_init) -> dict[str, float]:
    out = {}
    out["ami_binary"], out["ari_binary"], out["purity_binary"] = cluster_agreement(
        z, y, 2, seed=seed, n_init=n_init)
    out["ami_source"], out["ari_source"], out["purity_source"] = cluster_agreement(
        z, s_codes, k_src, seed=seed, n_init=n_init)
    ok = 1 < len(np.unique(y)) < len(y) and len(np.unique(z, axis=0)) > 2
    out["silhouette"] = float(silhouette_score(z, y)) if ok else float("nan")
    return out


def chance_levels(labels: np.ndarray, sources: np.ndarray) -> dict[str, float]:
    """What each score is at chance (see the module doc): 0 for the adjusted and silhouette
    scores, 0.5 for the probe AUC, the largest class share for purity and kNN accuracy."""
    def top_share(v):
        return float(np.unique(v, return_counts=True)[1].max() / len(v))

    share = top_share(np.asarray(labels))
    return {"ami_binary": 0.0, "ari_binary": 0.0, "purity_binary": share,
            "ami_source": 0.0, "ari_source": 0.0, "purity_source": top_share(np.asarray(sources)),
            "silhouette": 0.0, "probe_auc": 0.5, "knn_accuracy": share}


def _draws(codes: np.ndarray, m: int, n_boot: int, rng: np.random.Generator):
    """Row indices of ``n_boot`` subsamples of ``m`` of the clusters ``codes`` (no replacement)."""
    k = int(codes.max()) + 1
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(k + 1))
    for _ in range(n_boot):
        pick = np.sort(rng.choice(k, m, replace=False))
        yield np.concatenate([order[bounds[c]:bounds[c + 1]] for c in pick])


def backbone_separability(features: np.ndarray, labels: np.ndarray,
                          sources: np.ndarray | None = None, *,
                          groups: np.ndarray | None = None, pca: int | None = 32,
                          n_init: int = 10, n_folds: int = 5, knn_k: int = 5,
                          n_boot: int = 200, ci: float = 0.95, subsample: float = 0.5,
                          seed: int = 0) -> SeparabilityResult:
    """fakescope's backbone separability of one feature set (see the module docstring).

    Args:
        features: (N, D) frozen features.
        labels: (N,) 0 = real, 1 = fake.
        sources: (N,) source names ("real" or a generator); None -> the labels.
        groups: (N,) identity (or video) ids: CV folds never split a group.
        pca: components kept after standardising (None: all).
        n_boot: subsamples for the CIs (0: none). Same ``seed`` -> same result.
        subsample: share of the clusters (identities in ``groups``, else samples) in each
            subsample, drawn without replacement (module doc).
    """
    x = np.asarray(features, np.float64)
    y = np.asarray(labels).astype(np.int64)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"features must be (N, D) with N = len(labels); got {x.shape}, {len(y)}")
    src = y.astype(str) if sources is None else np.asarray(sources).astype(str)
    s_codes = np.unique(src, return_inverse=True)[1]
    k_src = int(s_codes.max() + 1)
    z = reduce_dim(standardize(x), pca, seed=seed)
    point = _unsupervised(z, y, s_codes, k_src, seed, n_init)
    g = None if groups is None else np.asarray(groups).astype(str)
    score, knn = out_of_fold(x, y, groups=g, n_folds=n_folds, knn_k=knn_k, seed=seed)
    point["probe_auc"], point["knn_accuracy"] = _scored_auc(y, score), _acc(y, knn)
    intervals: dict[str, tuple[float, float]] = {}
    resampled = ""
    if n_boot > 0:
        if not 0.0 < subsample < 1.0:
            raise ValueError(f"subsample must be in (0, 1), got {subsample}")
        unit = "identity" if g is not None else "sample"
        codes = np.unique(g if g is not None else np.arange(len(y)), return_inverse=True)[1]
        n_units = int(codes.max()) + 1
        m = min(max(2, int(round(subsample * n_units))), n_units - 1)
        resampled = f"{unit} ({m} of {n_units} per draw, without replacement)"
        rng = np.random.default_rng(seed)
        boots: dict[str, list[float]] = {k: [] for k in METRICS}
        for idx in _draws(codes, m, n_boot, rng):
            if len(np.unique(y[idx])) < 2:
                continue
            zi = reduce_dim(standardize(x[idx]), pca, seed=seed)  # refitted on the draw
            for k, v in _unsupervised(zi, y[idx], s_codes[idx], k_src, seed,
                                      max(1, n_init // 2)).items():
                boots[k].append(v)
            boots["probe_auc"].append(_scored_auc(y[idx], score[idx]))
            boots["knn_accuracy"].append(_acc(y[idx], knn[idx]))
        scale = float(np.sqrt(m / (n_units - m)))
        a = (1 - ci) / 2
        for k, vals in boots.items():
            v = np.asarray(vals, np.float64)
            v = v[~np.isnan(v)]
            if len(v) == 0 or not np.isfinite(point[k]):
                intervals[k] = (float("nan"), float("nan"))
                continue
            lo, hi = scale * (np.quantile(v, [a, 1 - a]) - v.mean()) + point[k]
            intervals[k] = (float(lo), float(hi))
    return SeparabilityResult(n_samples=len(y), n_features=x.shape[1], n_components=z.shape[1],
                              n_sources=k_src, seed=seed, ci=intervals,
                              chance=chance_levels(y, src), resampled=resampled, **point)


def rank_correlation(x: np.ndarray, y: np.ndarray, *, n_boot: int = 1000, ci: float = 0.95,
                     seed: int = 0) -> dict[str, float]:
    """Spearman's rho between paired scores ``x, y: (M,)`` with a percentile bootstrap CI over
    the M pairs -> {rho, p_value, ci_low, ci_high, n}. NaN pairs are dropped."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    out = {"rho": float("nan"), "p_value": float("nan"), "ci_low": float("nan"),
           "ci_high": float("nan"), "n": int(len(x))}
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out
    res = stats.spearmanr(x, y)
    out["rho"], out["p_value"] = float(res.statistic), float(res.pvalue)
    rng = np.random.default_rng(seed)
    rhos = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(x), len(x))
        if np.ptp(x[idx]) == 0 or np.ptp(y[idx]) == 0:
            continue
        rhos.append(stats.spearmanr(x[idx], y[idx]).statistic)
    if rhos:
        a = (1 - ci) / 2
        out["ci_low"], out["ci_high"] = (float(np.quantile(rhos, a)),
                                         float(np.quantile(rhos, 1 - a)))
    return out


def project_2d(features: np.ndarray, *, method: str = "auto", seed: int = 0,
               pca: int | None = 50) -> tuple[np.ndarray, str]:
    """(N, D) -> ((N, 2) embedding, method used). ``auto``: UMAP if importable, else t-SNE
    (N <= 5000), else PCA; input is standardised and reduced to ``pca`` components first."""
    z = reduce_dim(standardize(features), pca, seed=seed)
    n = len(z)
    if method == "auto":
        try:
            import umap  # noqa: F401

            method = "umap"
        except ImportError:
            method = "tsne" if 5 <= n <= 5000 else "pca"
    if method == "umap":
        import umap

        return umap.UMAP(n_components=2, random_state=seed).fit_transform(z), "umap"
    if method == "tsne" and n >= 5:
        from sklearn.manifold import TSNE

        perp = float(min(30.0, (n - 1) / 3))
        return TSNE(n_components=2, perplexity=perp, init="pca", random_state=seed,
                    max_iter=500).fit_transform(z), "tsne"
    if z.shape[1] < 2:
        z = np.pad(z, ((0, 0), (0, 2 - z.shape[1])))
    return PCA(n_components=2, svd_solver="full").fit_transform(z), "pca"


def projection_plot(features: np.ndarray, sources: np.ndarray, out_path: str | Path, *,
                    title: str = "", method: str = "auto", seed: int = 0) -> Path:
    """Scatter of the 2-D projection, real in grey and each source in its colour, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    emb, used = project_2d(features, method=method, seed=seed)
    src = np.asarray(sources).astype(str)
    names = ["real"] + sorted(set(src) - {"real"})
    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(5.2, 4.4), dpi=100)
    for i, name in enumerate(names):
        m = src == name
        if not m.any():
            continue
        c = "0.55" if name == "real" else colours((i - 1) % 10)
        ax.scatter(emb[m, 0], emb[m, 1], s=9, alpha=0.7, color=c, label=f"{name} ({m.sum()})",
                   linewidths=0)
    ax.set_title(f"{title} ({used})" if title else used, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, markerscale=1.5, loc="best")
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", metadata={"Software": None})
    plt.close(fig)
    return out
