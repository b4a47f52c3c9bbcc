"""The uncertainty study, top to bottom: rows -> per detector (train or reuse its runs, then
measure, unless the progress cache holds its results) -> source attribution -> report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from fakescope.data.manifest import fingerprint, read_manifest
from fakescope.experiments.uncertainty import binary, families, logo, maps, robustness, source
from fakescope.experiments.uncertainty.clips import Clips
from fakescope.experiments.uncertainty.config import DEFAULT_DETECTORS, UncertaintyStudyConfig
from fakescope.experiments.uncertainty.data import (
    Images,
    check_manifest,
    load_images,
    logo_generators,
    subsample,
)
from fakescope.experiments.uncertainty.progress import DetectorResults, Progress
from fakescope.experiments.uncertainty.report import (
    headline_numbers,
    heat_maps,
    study_tables,
    write_report,
)
from fakescope.experiments.uncertainty.runs import DetectorRuns, fit_detector_runs
from fakescope.experiments.uncertainty.video import (
    IMAGE_ONLY,
    VIDEO_DETECTORS,
    VideoInputs,
    is_video_manifest,
)

logger = logging.getLogger(__name__)


@dataclass
class StudyResult:
    """What :func:`run_uncertainty_study` returns: the tables it wrote
    (``tables/uncertainty__<name>.csv``), its figures, the ``study.json`` numbers and the
    wall-clock seconds."""

    out_dir: Path
    tables: dict[str, pd.DataFrame]
    figures: list[Path]
    numbers: dict[str, Any]
    seconds: float


def measure(det: str, runs: DetectorRuns, test: Images | Clips, val: Images | Clips | None,
            df: pd.DataFrame, generators: list[str], cfg: UncertaintyStudyConfig,
            out: Path) -> DetectorResults:
    """Every experiment of ``cfg`` on one detector's trained runs (test images, or clips on a
    video manifest)."""
    res = DetectorResults()
    model = runs.binary.model if runs.binary is not None else None
    if model is not None:
        res.tables["calibration"].append(binary.calibration_row(det, model, val, test))
        res.features["penultimate"] = test.features(model)
        summary, per_gen, features = binary.score_methods(det, runs, test, cfg, out / "scores")
        res.tables["summary"], res.tables["per_generator"] = summary, per_gen
        if features is not None:
            res.features["uncertainty"] = features
    if runs.multiclass is not None:
        res.end_to_end = source.end_to_end(runs.multiclass, test)
    if "robustness" in cfg.experiments:
        res.tables["robustness"] = robustness.robustness_rows(det, model, test, cfg)
    if "maps" in cfg.experiments:
        fig_dir = out / "figures" / "maps" / det.replace(":", "_")
        loc, occ, res.figures, res.skipped = maps.map_rows(det, model, test, df, generators,
                                                           cfg, fig_dir)
        res.tables["localisation"], res.tables["occlusion"] = loc, occ
    if runs.logo:
        res.tables["logo"] = logo.logo_rows(det, runs.logo, test, cfg)
    return res


def run_uncertainty_study(manifest: str | Path | pd.DataFrame, out_dir: str | Path,
                          cfg: UncertaintyStudyConfig | None = None, *, retrain: bool = False,
                          log: Callable | None = None) -> StudyResult:
    """Run the study grid on a manifest and write tables, heat maps and the report section.

    A run folder under ``out_dir/runs`` trained with other settings or rows is refused
    (ConfigError naming the differences) unless ``retrain``, which trains it again.
    ``log``: a ``print``-like callable told which runs are reused or trained.
    """
    cfg = replace(cfg) if cfg is not None else UncertaintyStudyConfig()
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    # the rows: every split, subsampled; test (and validation) images in memory, or per
    # detector its clips on a video manifest
    df = manifest if isinstance(manifest, pd.DataFrame) else read_manifest(manifest)
    video = is_video_manifest(df)
    if not cfg.detectors:
        cfg.detectors = list(VIDEO_DETECTORS if video else DEFAULT_DETECTORS)
    if video and cfg.needs(*IMAGE_ONLY):
        cfg.experiments = [e for e in cfg.experiments if e not in IMAGE_ONLY]
        if log:
            log(f"video manifest: clips are scored per clip; {' and '.join(IMAGE_ONLY)} are "
                "image experiments and are left out")
    cfg.validate()
    generators = check_manifest(df)
    df = subsample(df, cfg.max_per_class, cfg.seed)
    need_val = cfg.needs("binary", "source", "robustness", "maps")
    inputs = VideoInputs(df, out, cfg) if video else None
    skipped: dict[str, str] = {}
    if inputs is None:
        test = load_images(df, "test", cfg.image_size)
        skipped.update(test.skipped)
        val = load_images(df, "val", cfg.image_size) if need_val else None
        if val is not None:
            skipped.update(val.skipped)
    held_out = logo_generators(df, cfg.logo_max) if (
        "logo" in cfg.experiments and len(generators) >= 2) else []
    rows_id = fingerprint(df, [c for c in ("path", "label", "source", "split", "video_id",
                                           "mask_path", "landmarks_path") if c in df.columns])
    progress = Progress(out, {"settings": cfg.settings(), "rows": rows_id})

    # per detector: the run step, then the experiments (or their saved results)
    results: dict[str, DetectorResults] = {}
    tests: dict[str, Images | Clips] = {}
    for det in cfg.detectors:
        logger.info("uncertainty study: %s", det)
        rows, caches = df, None
        if inputs is not None:
            got = inputs.of(det, need_val=need_val)
            rows, test, val, caches = got.rows, got.test, got.val, inputs.caches
            skipped.update(test.skipped)
            if val is not None:
                skipped.update(val.skipped)
        tests[det] = test
        runs = fit_detector_runs(cfg, rows, det, out / "runs" / det.replace(":", "_"),
                                 logo=held_out, retrain=retrain, log=log, caches=caches)
        ids = runs.fingerprints()
        results[det] = progress.get(det, ids)
        if results[det] is None:
            results[det] = measure(det, runs, test, val, df, generators, cfg, out)
            progress.put(det, ids, results[det])
        else:
            logger.info("uncertainty study: %s already measured with these runs, reusing", det)
        skipped.update(results[det].skipped)

    # across detectors: source attribution; then tables, heat maps, study.json, the report
    attribution_table, attribution = None, {}
    if "source" in cfg.experiments:
        attribution_table, attribution = source.source_attribution(
            {d: r.features["uncertainty"] for d, r in results.items()
             if "uncertainty" in r.features},
            {d: r.features["penultimate"] for d, r in results.items()
             if "penultimate" in r.features},
            {d: r.end_to_end for d, r in results.items() if r.end_to_end is not None},
            tests, seed=cfg.seed)
    tables = study_tables(results, attribution_table, skipped)
    family_text = ""
    if video:
        if "summary" in tables:
            tables["summary"] = tables["summary"].rename(columns={"ms_per_image": "ms_per_clip"})
        family = families.family_tables(out / "scores", cfg, tests)
        tables.update(family.tables)
        family_text = family.text
    figures = heat_maps(tables, attribution, out / "figures")
    figures += [f for r in results.values() for f in r.figures]
    seconds = time.perf_counter() - t0
    n_test = len(next(iter(tests.values())).rows)
    numbers = headline_numbers(tables, seconds=seconds, config=asdict(cfg),
                               generators=generators, n_test=n_test)
    if video:
        numbers["unit"] = "clip"
        numbers["family"] = family.numbers
    write_report(out, tables, figures, numbers, extra_text=family_text)
    return StudyResult(out, tables, figures, numbers, seconds)
