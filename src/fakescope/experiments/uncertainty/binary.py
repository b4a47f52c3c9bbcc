"""Experiment ``binary``: the real/fake detector under every uncertainty method, and its
calibration before and after temperature scaling.

For each method the test images give probability samples ``probs (T, N, 2)``
(:func:`fakescope.models.predict.predict`): ``mc``/``mc_head``/``tta`` on the binary run,
``bnn`` on its Bayesian fine-tune, ``ensemble`` on the binary run + the ensemble runs.
Summary row: AUC, accuracy (threshold 0.5), ECE (15 bins)/Brier/NLL of P(fake), the mean of each
uncertainty component (:mod:`fakescope.uncertainty.decompose`) and ms per image; per generator:
AUC of that generator's fakes against all reals, mean P(fake) and components on its fakes.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from fakescope.experiments.uncertainty.clips import Clips
from fakescope.experiments.uncertainty.config import UncertaintyStudyConfig
from fakescope.experiments.uncertainty.data import Images
from fakescope.experiments.uncertainty.runs import DetectorRuns
from fakescope.metrics.calibration import apply_temperature, brier, ece, fit_temperature, nll
from fakescope.metrics.detection import roc_auc
from fakescope.scores import write_scores
from fakescope.uncertainty.attribution import uncertainty_features
from fakescope.uncertainty.decompose import COMPONENTS, decompose


def method_rows(detector: str, method: str, rows: pd.DataFrame, probs: torch.Tensor,
                seconds: float) -> tuple[dict, list[dict], pd.DataFrame]:
    """Summary row, per-generator rows and the scores table of one (detector, method);
    ``probs: (T, N, C)`` samples of the ``N`` test ``rows``, ``seconds`` their prediction time."""
    d = decompose(probs)
    y = rows["label"].to_numpy()
    p = d["p_fake"]
    summary = {"detector": detector, "method": method, "n": len(y), "auc": roc_auc(y, p),
               "accuracy": float(np.mean((p >= 0.5) == (y > 0))),
               "ece": ece(p, y, n_bins=15), "brier": brier(p, y), "nll": nll(p, y),
               **{k: float(d[k].mean()) for k in COMPONENTS},
               "ms_per_image": 1000 * seconds / max(1, len(y))}
    per_gen = []
    src = rows["source"].astype(str).to_numpy()
    for g in sorted(set(src[y == 1])):
        m = (y == 0) | (src == g)
        sel = src == g
        per_gen.append({"detector": detector, "method": method, "generator": g,
                        "auc": roc_auc(y[m], p[m]), "p_fake": float(p[sel].mean()),
                        **{k: float(d[k][sel].mean()) for k in COMPONENTS}})
    scores = pd.DataFrame({"sample_id": rows["sample_id"], "label": y, "p_fake": p,
                           "source": src, "video_id": rows["video_id"], "split": rows["split"]})
    if "identity" in rows:
        scores["identity"] = rows["identity"].to_numpy()
    mean = d["mean_probs"]
    for k in range(mean.shape[1]):
        scores[f"logit_{k}"] = np.log(np.clip(mean[:, k], 1e-12, 1.0))
    for k in COMPONENTS:
        scores[f"unc_{k}"] = d[k]
    return summary, per_gen, scores


def members(runs: DetectorRuns, method: str):
    """What ``method`` predicts with: the ensemble's detectors, the BNN, or the binary run's."""
    if method == "ensemble":
        return [runs.binary.model] + [r.model for r in runs.ensemble]
    if method == "bnn":
        return runs.bnn.model
    return runs.binary.model


def calibration_row(detector: str, model, val: Images, test: Images) -> dict:
    """ECE (equal width and equal mass), Brier and NLL of P(fake) on test, before and after
    (``_ts``) a temperature fitted on the validation log-probabilities."""
    logits = {name: torch.log(imgs.predict(model, method="none")[0]
                              .double().clamp_min(1e-12)).numpy()
              for name, imgs in (("val", val), ("test", test))}
    t = fit_temperature(logits["val"], val.labels)
    y = test.labels
    row = {"detector": detector, "temperature": t}
    for tag, p in (("", apply_temperature(logits["test"], 1.0)[:, 1]),
                   ("_ts", apply_temperature(logits["test"], t)[:, 1])):
        row.update({f"ece{tag}": ece(p, y), f"ece_mass{tag}": ece(p, y, strategy="quantile"),
                    f"brier{tag}": brier(p, y), f"nll{tag}": nll(p, y)})
    return row


def score_methods(detector: str, runs: DetectorRuns, test: Images | Clips,
                  cfg: UncertaintyStudyConfig, scores_dir,
                  ) -> tuple[list[dict], list[dict], np.ndarray]:
    """Summary rows, per-generator rows and the uncertainty features ``(N, 5)`` (of
    ``cfg.feature_method_for(detector)``) of every method that applies to the detector
    (``cfg.methods_for``); writes ``scores_dir/<detector>__<method>.csv``."""
    summary, per_gen, features = [], [], None
    feature_method = cfg.feature_method_for(detector)
    for method in cfg.methods_for(detector):
        t0 = time.perf_counter()
        probs = test.predict(members(runs, method), method=method, samples=cfg.samples,
                             seed=cfg.seed, batch_size=max(cfg.batch_size, 64))
        s, g, scores = method_rows(detector, method, test.rows, probs, time.perf_counter() - t0)
        summary.append(s)
        per_gen.extend(g)
        write_scores(scores, scores_dir / f"{detector.replace(':', '_')}__{method}.csv")
        if method == feature_method:
            features = uncertainty_features(probs, prefix=detector).to_numpy()
    return summary, per_gen, features
