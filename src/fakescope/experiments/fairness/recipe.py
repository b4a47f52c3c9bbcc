"""The fairness study, top to bottom: data, one run per method, test scores, audit, report."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from fakescope.data.manifest import select_split, subset
from fakescope.experiments.fairness.config import GROUP_COLUMN, METHODS, StudyConfig, train_config
from fakescope.experiments.fairness.data import balanced_manifest, build_study_data
from fakescope.experiments.fairness.report import StudyResult, write_report
from fakescope.train.run import fit_or_reuse, score


def run_fairness_study(out_dir: str | Path, cfg: StudyConfig | None = None, *,
                       retrain: bool = False, log=None, synth=None,
                       generator=None) -> StudyResult:
    """Build the data, train every method, audit both test domains, write the report section.

    Each method is a run folder ``OUT/runs/<method>`` of :func:`fakescope.train.run.fit_or_reuse`
    with its test scores cached in ``test_scores.csv``: a re-run reuses what matches its settings
    and refuses what does not (ConfigError), unless ``retrain``, which rebuilds the data and
    retrains what differs. ``log``: a ``print``-like callable told about reuse.
    ``synth`` / ``generator`` replace the SynthFaces build and the SBI generator (tests only).
    """
    cfg = cfg or StudyConfig()
    names = cfg.method_names()
    out = Path(out_dir).resolve()  # every path the study writes into a manifest is absolute
    out.mkdir(parents=True, exist_ok=True)
    manifest = build_study_data(out, cfg, synth=synth, retrain=retrain)
    balanced = None
    scores = {}
    for name in names:
        sw = METHODS[name]
        data = manifest
        if sw.synthetic:
            if balanced is None:
                balanced = balanced_manifest(out, manifest, cfg, generator=generator)
            data = balanced
        rows = subset(data, data["split"].isin(("train", "val")))
        tc = train_config(cfg, sw, int(rows[GROUP_COLUMN].nunique()))
        run = fit_or_reuse(tc, rows, out / "runs" / name, retrain=retrain, log=log)
        scores[name] = score(run, select_split(data, "test"),
                             cache=out / "runs" / name / "test_scores.csv")
    (out / "fairness_study_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    return write_report(out, cfg, manifest, scores)
