"""On a video manifest: the research's two claims about detector families, with intervals.

The research reports that biological detectors (``ppg_map``, ``motion_map``) are better
calibrated than blind ones and fail on different generators. From the clip scores of one method
per detector (``mc`` when it is run, else the first method; ``OUT/scores/<det>__<method>.csv``)
this module gives, with 95 % intervals that resample identities
(:mod:`fakescope.experiments.video.detectors_report`):

- ``family_calibration``: per detector ECE of P(fake) and AUC, with its family;
- ``family_per_generator``: per detector and generator the AUC of that generator's fakes
  against the reals, ``above_chance`` when its interval lies above 0.5;
- the paired difference of the families' mean ECE (biological - blind) on the clips every
  detector scored, and its verdict: ``holds``, ``reversed`` or ``not established``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fakescope.experiments.uncertainty.config import UncertaintyStudyConfig
from fakescope.experiments.uncertainty.data import cluster_ids
from fakescope.experiments.video.detectors_report import (
    calibration_table,
    chance_caveat,
    family_ece_difference,
    generator_lines,
    per_generator_auc,
    verdict_text,
)
from fakescope.scores import read_scores


@dataclass
class FamilyResult:
    """``tables`` (``family_calibration``, ``family_per_generator``), the report ``text`` and
    ``numbers`` for ``study.json`` (method, ECE difference and verdict)."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    text: str = ""
    numbers: dict = field(default_factory=dict)


def family_method(cfg: UncertaintyStudyConfig, detector: str) -> str | None:
    """The method whose scores stand for ``detector`` in the family comparison."""
    usable = cfg.methods_for(detector)
    return "mc" if "mc" in usable else next(iter(usable), None)


def clip_scores(scores_dir: Path, cfg: UncertaintyStudyConfig,
                tests: dict) -> dict[str, pd.DataFrame]:
    """{detector: its clip scores table} with an ``identity`` column: the cluster the intervals
    resample (:func:`~.data.cluster_ids` of the test rows); detectors without scores on disk
    are left out."""
    out = {}
    for det, test in tests.items():
        method = family_method(cfg, det)
        path = scores_dir / f"{det.replace(':', '_')}__{method}.csv"
        if method is None or not path.is_file():
            continue
        t = read_scores(path)
        # the intervals resample this column: the test rows' clusters (identity, else video)
        ident = dict(zip(test.rows["sample_id"].astype(str), cluster_ids(test.rows),
                         strict=True))
        t["identity"] = t["sample_id"].astype(str).map(ident)
        out[det] = t
    return out


def family_tables(scores_dir: Path, cfg: UncertaintyStudyConfig, tests: dict, *,
                  n_boot: int = 500) -> FamilyResult:
    """The family comparison (module doc) of the detectors in ``tests``."""
    scores = clip_scores(scores_dir, cfg, tests)
    if not scores:
        return FamilyResult(text="No binary scores, so the detector families are not compared.")
    cal = calibration_table(scores, n_boot=n_boot, seed=cfg.seed)
    auc = per_generator_auc(scores, n_boot=n_boot, seed=cfg.seed)
    diff = family_ece_difference(scores, n_boot=n_boot, seed=cfg.seed)
    methods = {d: family_method(cfg, d) for d in scores}
    text = (f"Detector families on clips (scores of {', '.join(sorted(set(methods.values())))}; "
            "95 % intervals resample identities). " + verdict_text(diff) + chance_caveat(cal)
            + "\n\n" + "\n".join(generator_lines(auc)))
    return FamilyResult({"family_calibration": cal, "family_per_generator": auc}, text,
                        {"methods": methods, "ece_difference": diff})
