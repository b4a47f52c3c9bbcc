"""Source (generator) attribution from uncertainty "fingerprints".

Features per detector ``d`` (``uncertainty_features``): ``d:p_fake``, ``d:total`` (predictive
entropy), ``d:aleatoric``, ``d:epistemic``, ``d:variance``, and optional region-map statistics
(``region_features``: mean / std / min / max over regions of the occlusion deltas of p_fake and
epistemic uncertainty). Features of several detectors are concatenated column-wise.

``attribution_cv(X, y)`` predicts the source (a generator name or ``"real"``) with a
cross-validated classifier (standardised logistic regression or gradient boosting; stratified
folds, grouped by ``groups`` — e.g. video ids — when given) and reports balanced accuracy
(the mean per-class recall, so chance is ``1 / #classes``) and the confusion matrix (rows =
true source, columns = predicted). The same function run on penultimate features gives the
baseline; ``prediction_metrics`` scores an end-to-end multi-class detector's predictions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, confusion_matrix
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fakescope.errors import ConfigError, DataError
from fakescope.uncertainty.decompose import COMPONENTS, decompose

CLASSIFIERS = ("logreg", "gbm")


def uncertainty_features(probs, *, prefix: str = "") -> pd.DataFrame:
    """``(N, 5)`` features of samples ``probs (T, N, C)``: p_fake and the four components."""
    d = decompose(probs)
    p = f"{prefix}:" if prefix else ""
    return pd.DataFrame({f"{p}{k}": d[k] for k in ("p_fake", *COMPONENTS)})


def region_features(tables: list[pd.DataFrame], *, prefix: str = "") -> pd.DataFrame:
    """Statistics over regions of occlusion tables (one table per image, see ``maps``)."""
    p = f"{prefix}:" if prefix else ""
    rows = []
    for t in tables:
        row = {}
        for col in ("delta_p_fake", "delta_epistemic"):
            v = t[col].to_numpy(dtype=float)
            row.update({f"{p}{col}_mean": v.mean(), f"{p}{col}_std": v.std(),
                        f"{p}{col}_min": v.min(), f"{p}{col}_max": v.max()})
        rows.append(row)
    return pd.DataFrame(rows)


def make_classifier(name: str, *, seed: int = 0):
    if name == "logreg":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    if name == "gbm":
        return HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    raise ConfigError(f"unknown classifier {name!r}", hint=f"use one of {', '.join(CLASSIFIERS)}")


@dataclass
class AttributionResult:
    """Balanced accuracy, the confusion matrix (rows true, columns predicted) and predictions."""

    name: str
    balanced_accuracy: float
    accuracy: float
    classes: list[str]
    confusion: pd.DataFrame
    predictions: np.ndarray = field(repr=False)
    dropped: list[str] = field(default_factory=list)  # sources left out (too few samples)

    def row(self) -> dict:
        return {"features": self.name, "balanced_accuracy": self.balanced_accuracy,
                "accuracy": self.accuracy, "chance": 1.0 / max(1, len(self.classes)),
                "n": int(len(self.predictions)), "dropped": ",".join(self.dropped)}


def prediction_metrics(y_true, y_pred, *, name: str = "end_to_end",
                       classes: list[str] | None = None) -> AttributionResult:
    """Metrics of given predictions (e.g. an end-to-end multi-class detector's argmax)."""
    y_true, y_pred = np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)
    classes = list(classes) if classes is not None else sorted(set(y_true))
    cm = confusion_matrix(y_true, y_pred, labels=classes)
    return AttributionResult(name, float(balanced_accuracy_score(y_true, y_pred)),
                             float(np.mean(y_true == y_pred)), classes,
                             pd.DataFrame(cm, index=classes, columns=classes), y_pred)


def attribution_cv(X, y, *, classifier: str = "logreg", folds: int = 5, seed: int = 0,
                   groups=None, name: str = "", min_per_class: int = 0) -> AttributionResult:
    """Cross-validated source prediction from features ``X (N, F)`` and sources ``y (N,)``.

    ``min_per_class > 0`` drops sources with fewer samples first (listed in
    ``result.dropped``); otherwise a source with a single sample is a DataError. Folds: at
    most ``folds``, the smallest source's count and (with ``groups``) the number of groups;
    ``groups`` keep every group on one side of each fold.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(str)
    if X.ndim != 2 or len(X) != len(y):
        raise DataError(f"features {X.shape} do not match {len(y)} labels")
    if not np.all(np.isfinite(X)):
        raise DataError("features contain NaN or infinite values")
    dropped: list[str] = []
    if min_per_class > 0:
        classes, counts = np.unique(y, return_counts=True)
        dropped = [str(c) for c, n in zip(classes, counts, strict=True) if n < min_per_class]
        keep = ~np.isin(y, dropped)
        X, y = X[keep], y[keep]
        groups = None if groups is None else np.asarray(groups)[keep]
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise DataError("source attribution needs at least two sources")
    k = int(min(folds, counts.min()))
    if k < 2:
        raise DataError(f"source {classes[counts.argmin()]!r} has one sample; "
                        "cross-validation needs >= 2 per source")
    if groups is not None:
        n_groups = len(np.unique(np.asarray(groups).astype(str)))
        if n_groups < 2:
            raise DataError("source attribution with grouped folds needs >= 2 groups "
                            f"(identities or videos); the rows have {n_groups}")
        k = min(k, n_groups)
        cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    else:
        cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    pred = cross_val_predict(make_classifier(classifier, seed=seed), X, y, cv=cv, groups=groups)
    res = prediction_metrics(y, pred, name=name or classifier, classes=list(classes))
    res.dropped = dropped
    return res


def compare_attribution(feature_sets: dict[str, np.ndarray], y, *,
                        classifiers: tuple[str, ...] = ("logreg",), folds: int = 5,
                        seed: int = 0, groups=None, min_per_class: int = 0,
                        end_to_end: np.ndarray | None = None) -> tuple[pd.DataFrame, dict]:
    """Balanced accuracy of every feature set x classifier (and the end-to-end predictions).

    Returns ``(table, {name: AttributionResult})``; table columns: ``features``,
    ``classifier``, ``balanced_accuracy``, ``accuracy``, ``chance``, ``n``.
    """
    rows, results = [], {}
    for fname, X in feature_sets.items():
        for clf in classifiers:
            r = attribution_cv(X, y, classifier=clf, folds=folds, seed=seed, groups=groups,
                               name=fname, min_per_class=min_per_class)
            results[f"{fname}/{clf}"] = r
            rows.append({**r.row(), "classifier": clf})
    if end_to_end is not None:
        r = prediction_metrics(y, end_to_end, name="end_to_end")
        results["end_to_end"] = r
        rows.append({**r.row(), "classifier": "multi-class detector"})
    table = pd.DataFrame(rows)[["features", "classifier", "balanced_accuracy", "accuracy",
                                "chance", "n", "dropped"]]
    return table, results
