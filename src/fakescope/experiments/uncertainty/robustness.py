"""Experiment ``robustness``: the binary detector under JPEG / blur / noise / resize and
FGSM / PGD (5 steps) against strength, on ``robustness_images`` balanced test images, scored
with ``mc_head`` (:func:`fakescope.robustness.sweep.robustness_sweep`; ``wrong_confident`` =
misclassified with total uncertainty below the clean median: attacked but confident)."""

from __future__ import annotations

from fakescope.experiments.uncertainty.config import UncertaintyStudyConfig
from fakescope.experiments.uncertainty.data import Images, balanced_index
from fakescope.experiments.uncertainty.runs import stochastic_method
from fakescope.robustness.sweep import robustness_sweep


def robustness_rows(detector: str, model, test: Images,
                    cfg: UncertaintyStudyConfig) -> list[dict]:
    """One row per (kind, strength) of the sweep, with the detector's name first."""
    idx = balanced_index(test.labels, min(cfg.robustness_images, len(test.x)), cfg.seed)
    t = robustness_sweep(model, test.x[idx], test.labels[idx], method=stochastic_method(model),
                         samples=cfg.samples, seed=cfg.seed, pgd_steps=5)
    t.insert(0, "detector", detector)
    return t.to_dict("records")
