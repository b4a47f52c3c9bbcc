"""Experiments ``multiclass`` and ``source``: which generator made a fake.

``multiclass``: the end-to-end multi-class detector (classes ``real`` + each generator) predicts
the source of every test image (argmax of its probabilities). ``source``: a cross-validated
logistic regression (5 folds grouped by identity, else by video id, so a person's real and
fake images never sit on both sides of a fold; sources with < 2 test images dropped) predicts
the source from the uncertainty features ``(N, 5 x #detectors)`` of all detectors, compared with
the same classifier on their penultimate features, on each detector's uncertainty features
alone, on each family's (biological / blind) when both are present, and with the end-to-end
detectors. Balanced accuracy (chance = 1 / #sources) and the
confusion matrix (rows true, columns predicted).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fakescope.experiments.uncertainty.clips import Clips
from fakescope.experiments.uncertainty.data import Images, cluster_ids
from fakescope.experiments.video.detectors import family
from fakescope.train.run import Run
from fakescope.uncertainty.attribution import compare_attribution, prediction_metrics


def end_to_end(run: Run, test: Images | Clips) -> np.ndarray:
    """``(N,)`` class names the multi-class detector predicts for the test images."""
    probs = test.predict(run.model, method="none")[0]
    return np.array(run.model.class_names)[probs.argmax(-1).numpy()]


def common_rows(tests: dict[str, Images | Clips]) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The test rows every detector scored (first detector's order) and, per detector, the
    positions of those rows in its own test set. On images every detector has the same rows;
    on clips one detector may lack a clip another scored (no face frame, no signal map)."""
    first = next(iter(tests.values())).rows
    ids = [set(t.rows["sample_id"].astype(str)) for t in tests.values()]
    keep = first[first["sample_id"].astype(str).isin(set.intersection(*ids))].reset_index(
        drop=True)
    order = keep["sample_id"].astype(str)
    pos = {}
    for d, t in tests.items():
        where = {s: i for i, s in enumerate(t.rows["sample_id"].astype(str))}
        pos[d] = np.array([where[s] for s in order], dtype=np.int64)
    return keep, pos


def source_attribution(uncertainty: dict[str, np.ndarray], penultimate: dict[str, np.ndarray],
                       predictions: dict[str, np.ndarray], tests: dict[str, Images | Clips], *,
                       seed: int) -> tuple[pd.DataFrame | None, dict]:
    """The attribution table and ``{name: AttributionResult}`` from per-detector uncertainty
    features ``(N_d, 5)``, penultimate features ``(N_d, D)`` and end-to-end predictions
    ``(N_d,)`` (each ``{detector: array}`` in detector order, rows those of ``tests[d]``),
    on the test rows every detector scored (:func:`common_rows`); folds grouped by
    :func:`~.data.cluster_ids`. With biological and blind detectors both present, their
    uncertainty features are also compared family against family.
    ``(None, {})`` without uncertainty features."""
    if not uncertainty:
        return None, {}
    rows, pos = common_rows({d: tests[d] for d in tests if d in uncertainty or d in predictions})
    labels = rows["label"].to_numpy()
    y = np.where(labels == 0, "real", rows["source"].astype(str).to_numpy())
    dets = list(uncertainty)
    unc = {d: uncertainty[d][pos[d]] for d in dets}
    sets = {"uncertainty (all detectors)": np.hstack([unc[d] for d in dets]),
            "penultimate (all detectors)": np.hstack([penultimate[d][pos[d]] for d in dets])}
    fams = {f: [d for d in dets if family(d) == f] for f in ("biological", "blind")}
    if all(fams.values()):
        for f, members in fams.items():
            sets[f"uncertainty ({f} detectors)"] = np.hstack([unc[d] for d in members])
    for d in dets:
        sets[f"uncertainty ({d})"] = unc[d]
    table, results = compare_attribution(sets, y, folds=5, seed=seed,
                                         groups=cluster_ids(rows), min_per_class=2)
    tables = [table]
    for d, pred in predictions.items():
        r = prediction_metrics(y, pred[pos[d]], name=f"end-to-end multi-class ({d})",
                               classes=sorted(set(y)))
        results[f"end_to_end/{d}"] = r
        tables.append(pd.DataFrame([{**r.row(), "classifier": "multi-class detector"}]))
    return pd.concat(tables, ignore_index=True), results
