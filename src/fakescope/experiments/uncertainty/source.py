"""Experiments ``multiclass`` and ``source``: which generator made a fake.

``multiclass``: the end-to-end multi-class detector (classes ``real`` + each generator) predicts
the source of every test image (argmax of its probabilities). ``source``: a cross-validated
logistic regression (5 folds grouped by video id; sources with < 2 test images dropped) predicts
the source from the uncertainty features ``(N, 5 x #detectors)`` of all detectors, compared with
the same classifier on their penultimate features, on each detector's uncertainty features
alone, and with the end-to-end detectors. Balanced accuracy (chance = 1 / #sources) and the
confusion matrix (rows true, columns predicted).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fakescope.experiments.uncertainty.data import Images
from fakescope.models.predict import predict_samples
from fakescope.train.run import Run
from fakescope.uncertainty.attribution import compare_attribution, prediction_metrics


def end_to_end(run: Run, test: Images) -> np.ndarray:
    """``(N,)`` class names the multi-class detector predicts for the test images."""
    probs = predict_samples(run.model, test.x, method="none", batch_size=128)[0]
    return np.array(run.model.class_names)[probs.argmax(-1).numpy()]


def source_attribution(uncertainty: dict[str, np.ndarray], penultimate: dict[str, np.ndarray],
                       predictions: dict[str, np.ndarray], test: Images, *,
                       seed: int) -> tuple[pd.DataFrame | None, dict]:
    """The attribution table and ``{name: AttributionResult}`` from per-detector uncertainty
    features ``(N, 5)``, penultimate features ``(N, D)`` and end-to-end predictions ``(N,)``
    (each ``{detector: array}`` in detector order); ``(None, {})`` without uncertainty features."""
    if not uncertainty:
        return None, {}
    y = np.where(test.labels == 0, "real", test.sources)
    dets = list(uncertainty)
    sets = {"uncertainty (all detectors)": np.hstack([uncertainty[d] for d in dets]),
            "penultimate (all detectors)": np.hstack([penultimate[d] for d in dets])}
    for d in dets:
        sets[f"uncertainty ({d})"] = uncertainty[d]
    table, results = compare_attribution(sets, y, folds=5, seed=seed,
                                         groups=test.rows["video_id"].to_numpy(),
                                         min_per_class=2)
    tables = [table]
    for d, pred in predictions.items():
        r = prediction_metrics(y, pred, name=f"end-to-end multi-class ({d})",
                               classes=sorted(set(y)))
        results[f"end_to_end/{d}"] = r
        tables.append(pd.DataFrame([{**r.row(), "classifier": "multi-class detector"}]))
    return pd.concat(tables, ignore_index=True), results
