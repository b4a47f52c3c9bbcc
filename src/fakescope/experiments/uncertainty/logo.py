"""Experiment ``logo``: leave one generator out.

For each held-out generator ``g`` a detector trained without ``g``'s train/val fakes is scored on
all test images (``mc_head`` when it has head dropout, else one deterministic pass): AUC of
``g``'s fakes against the reals (``auc_unseen``) and of the other generators' fakes
(``auc_seen``), and the mean total / epistemic / aleatoric uncertainty on unseen vs seen fakes.
The expected signature of a generalisation gap: ``auc_unseen < auc_seen`` with
``epistemic_unseen > epistemic_seen``.
"""

from __future__ import annotations

from fakescope.experiments.uncertainty.config import UncertaintyStudyConfig
from fakescope.experiments.uncertainty.data import Images
from fakescope.experiments.uncertainty.runs import stochastic_method
from fakescope.metrics.detection import roc_auc
from fakescope.train.run import Run
from fakescope.uncertainty.decompose import decompose


def logo_rows(detector: str, runs: dict[str, Run], test: Images,
              cfg: UncertaintyStudyConfig) -> list[dict]:
    """One row per held-out generator of ``runs`` (``{generator: run trained without it}``)."""
    y, src = test.labels, test.sources
    rows = []
    for g, run in runs.items():
        probs = test.predict(run.model, method=stochastic_method(run.model),
                             samples=cfg.samples, seed=cfg.seed)
        d = decompose(probs)
        unseen, seen = src == g, (y == 1) & (src != g)
        row = {"detector": detector, "generator": g,
               "auc_unseen": roc_auc(y[(y == 0) | unseen], d["p_fake"][(y == 0) | unseen]),
               "auc_seen": roc_auc(y[(y == 0) | seen], d["p_fake"][(y == 0) | seen])}
        for k in ("total", "epistemic", "aleatoric"):
            row[f"{k}_unseen"] = float(d[k][unseen].mean())
            row[f"{k}_seen"] = float(d[k][seen].mean()) if seen.any() else float("nan")
        rows.append(row)
    return rows
