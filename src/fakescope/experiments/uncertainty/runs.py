"""Every training one detector needs in the study, through the run step (``fit_or_reuse``).

Run folders under ``runs/<detector>/``: ``binary`` (real/fake), ``ensemble_<k>`` (members
``k = 1 .. ensemble_size - 1``, seed ``seed + 1000 k``; member 0 is ``binary``), ``bnn`` (the
binary detector made Bayesian in its heads and fine-tuned with NLL + KL/N for ``bnn_epochs``),
``multiclass`` (real + each generator) and ``logo_<generator>`` (trained without that
generator's train/val fakes). A finished run is reused only when its settings and rows match;
otherwise the study is refused, or the run retrained with ``retrain``.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fakescope.experiments.uncertainty.config import (
    MapCaches,
    UncertaintyStudyConfig,
    train_config,
)
from fakescope.experiments.uncertainty.data import without_generator
from fakescope.models.bayesian import bayesianize
from fakescope.train.run import RECORD, Run, clear_run, fit_or_reuse, refuse_unless_retrain

#: File in a fine-tuned run folder naming the run it started from (hash of its fingerprint).
BASE = "base.txt"


@dataclass
class DetectorRuns:
    """The trained runs of one detector (None / empty when no experiment needs them)."""

    binary: Run | None = None
    ensemble: list[Run] = field(default_factory=list)  # members 1..; binary is member 0
    bnn: Run | None = None
    multiclass: Run | None = None
    logo: dict[str, Run] = field(default_factory=dict)

    def fingerprints(self) -> dict[str, str]:
        """``{run folder name: hash of Run.fingerprint}``: identifies every trained weight."""
        runs = [self.binary, *self.ensemble, self.bnn, self.multiclass, *self.logo.values()]
        return {r.out.name: _digest(r.fingerprint) for r in runs if r is not None}


def stochastic_method(model) -> str:
    """``mc_head`` for a detector with head dropout, else ``none`` (one deterministic pass)."""
    return "mc_head" if model.head_dropout.p > 0 else "none"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fine_tune_bayesian(tc, rows: pd.DataFrame, out: Path, base: Run, *, prior_sigma: float,
                       retrain: bool = False, log: Callable | None = None) -> Run:
    """``fit_or_reuse`` of ``base.model`` made Bayesian in its heads (``tc`` trains it with the
    ``bayes`` loss). The starting weights are not in ``tc``, so ``out/base.txt`` records which
    run they came from: a run fine-tuned from another training of ``base`` is refused (or,
    with ``retrain``, trained again)."""
    base_id = _digest(base.fingerprint)
    stamp = out / BASE
    old = stamp.read_text().strip() if stamp.is_file() else None
    if (out / RECORD).is_file() and old != base_id:
        reason = f"fine-tuned from another training of {base.out}"
        diff = f"base run weights: {(old or 'unknown')[:12]} -> {base_id[:12]}"
        refuse_unless_retrain(out, f"a run {reason}", [diff],
                              retrain=retrain, log=log, reason=reason)
        clear_run(out)
    model = bayesianize(copy.deepcopy(base.model).cpu(), prior_sigma=prior_sigma)
    run = fit_or_reuse(tc, rows, out, retrain=retrain, model=model, log=log)
    stamp.write_text(base_id + "\n")
    return run


def fit_detector_runs(cfg: UncertaintyStudyConfig, df: pd.DataFrame, detector: str,
                      folder: Path, *, logo: list[str], retrain: bool = False,
                      log: Callable | None = None, caches: MapCaches | None = None,
                      ) -> DetectorRuns:
    """Train (or reuse) the runs of ``detector`` that ``cfg.experiments`` need, in ``folder``,
    on the rows ``df`` (images, face frames, or clips for a map detector, whose signals and
    maps live in ``caches``); ``logo``: the generators held out in turn."""

    def fit(name: str, rows: pd.DataFrame = df, **options) -> Run:
        out = folder / name
        return fit_or_reuse(train_config(cfg, detector, out, caches=caches, **options), rows,
                            out, retrain=retrain, log=log)

    runs = DetectorRuns()
    if cfg.needs("binary", "source", "robustness", "maps"):
        runs.binary = fit("binary")
        if "ensemble" in cfg.methods:
            runs.ensemble = [fit(f"ensemble_{k}", seed=cfg.seed + 1000 * k)
                             for k in range(1, cfg.ensemble_size)]
        if "bnn" in cfg.methods:
            out = folder / "bnn"
            tc = train_config(cfg, detector, out, loss="bayes", epochs=cfg.bnn_epochs,
                              caches=caches)
            runs.bnn = fine_tune_bayesian(tc, df, out, runs.binary,
                                          prior_sigma=cfg.prior_sigma, retrain=retrain, log=log)
    if cfg.needs("multiclass", "source"):
        runs.multiclass = fit("multiclass", target="multiclass")
    for g in logo:
        runs.logo[g] = fit(f"logo_{g}", without_generator(df, g))
    return runs
