"""The video study: build SynthFaces video, extract every clip's signals, run the difficulty
controls and write the report sections.

Folders under ``OUT``: ``video/`` (the clip benchmark, :mod:`fakescope.data.synthfaces.video_build`),
``video_signals/`` (:func:`fakescope.signals.pipeline.extract_signals` with the ground-truth
landmarks), ``tables/video_controls.csv``; the detectors step (:mod:`.detectors`):
``video_signals_farneback/``, ``video_maps/``, ``video_frames/``, ``video_models/<detector>/fold<k>``
and ``tables/video_scores_<detector>.csv``. Each step resumes or reuses what is there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fakescope.data.synthfaces.video_build import build_video_benchmark
from fakescope.data.tables import read_table
from fakescope.errors import ConfigError, DataError
from fakescope.experiments.video.controls import control_aucs, control_features, write_controls
from fakescope.experiments.video.detectors import (
    VIDEO_DETECTORS,
    DetectorOptions,
    run_detectors,
)
from fakescope.experiments.video.detectors_report import detector_sections
from fakescope.experiments.video.report import video_sections
from fakescope.report import Report
from fakescope.signals.pipeline import extract_signals
from fakescope.signals.rppg import MIN_SECONDS


@dataclass
class VideoStudyConfig:
    identities: int = 72
    clips_per_identity: int = 2
    seconds: float = 6.0
    fps: float = 30.0
    size: int = 128
    seed: int = 0
    folds: int = 5
    n_boot: int = 500
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    #: detectors scored out of fold (map detectors = biological, any other = blind on frames);
    #: empty = skip the step. Fewer than 2 x detector_folds identities also skip it (logged).
    detectors: tuple[str, ...] = VIDEO_DETECTORS
    detector_folds: int = 3
    map_epochs: int = 8
    blind_epochs: int = 4
    frames_per_clip: int = 8
    frame_size: int = 64
    mc_samples: int = 16
    #: frames below this size (the demo's --quick clips) train the "tiny" blind detector in
    #: place of the named blind ones
    small_frames: int = 64

    def detector_options(self) -> DetectorOptions:
        """The options of the detectors step (:mod:`.detectors`)."""
        from fakescope.train.signal_data import is_map_detector

        dets = tuple(dict.fromkeys(
            d if is_map_detector(d) or self.size >= self.small_frames else "tiny"
            for d in self.detectors))
        return DetectorOptions(
            detectors=dets, folds=self.detector_folds, map_epochs=self.map_epochs,
            blind_epochs=self.blind_epochs, frames_per_clip=self.frames_per_clip,
            image_size=self.frame_size, samples=self.mc_samples, seed=self.seed,
            workers=self.workers)


def run_video_study(out_dir: str | Path, cfg: VideoStudyConfig | None = None, *,
                    report: Report | None = None, say: Callable[[str], None] | None = print,
                    progress: bool = True) -> Report:
    """Run the study into ``out_dir``; adds its sections to ``report`` (or a new one)."""
    cfg = cfg or VideoStudyConfig()
    if cfg.seconds < MIN_SECONDS:
        raise ConfigError(f"clips of {cfg.seconds:g} s are shorter than one signal window "
                          f"({MIN_SECONDS:g} s)", hint=f"use --seconds {MIN_SECONDS:g} or more")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = report or Report(out, title="fakescope — SynthFaces video")
    t0 = time.perf_counter()
    if say:
        say(f"video: building {cfg.identities} identities x {cfg.clips_per_identity} clips of "
            f"{cfg.seconds:g} s + fakes in {out / 'video'}")
    manifest = build_video_benchmark(
        out / "video", workers=cfg.workers, identities=cfg.identities,
        clips_per_identity=cfg.clips_per_identity, seconds=cfg.seconds, fps=cfg.fps,
        size=cfg.size, seed=cfg.seed)
    if say:
        say(f"video: extracting signals of {len(manifest)} clips in {out / 'video_signals'}")
    summary = extract_signals(manifest, out / "video_signals", workers=cfg.workers,
                              landmarks="manifest", flow="none", progress=progress)
    if say and summary.failed:
        say(f"video: {summary.failed} clip(s) failed, listed in "
            f"{out / 'video_signals' / 'errors.csv'}")
    signals = read_table(out / "video_signals" / "signals.csv", what="signals table")
    if "hr_pos_bpm" not in signals or signals.empty:
        raise DataError("no clip's signals could be extracted",
                        path=out / "video_signals" / "errors.csv", hint="see the errors listed")
    if say:
        say("video: difficulty controls (heart rate only, frame differences only)")
    feats = control_features(manifest, signals)
    aucs = control_aucs(feats, folds=cfg.folds, n_boot=cfg.n_boot, seed=cfg.seed)
    write_controls(aucs, out / "tables" / "video_controls.csv")
    feats.to_csv(out / "tables" / "video_control_features.csv", index=False)
    for section in video_sections(manifest, signals, out / "video_signals", aucs, out):
        report.add(section)
    if cfg.detectors:
        t1 = time.perf_counter()
        opts = cfg.detector_options()
        if say:
            say(f"video: detectors {', '.join(opts.detectors)} out of fold "
                f"({opts.folds} folds by identity)")
        result = run_detectors(manifest, out, opts, say=say, progress=progress)
        for section in detector_sections(result, manifest, out, n_boot=cfg.n_boot,
                                         seed=cfg.seed):
            report.add(section)
        if say:
            say(f"video: detectors step done in {time.perf_counter() - t1:.0f} s")
    if say:
        say(f"video: done in {time.perf_counter() - t0:.0f} s")
    return report


def load_controls(out_dir: str | Path) -> pd.DataFrame:
    """The controls table a finished study wrote."""
    return read_table(Path(out_dir) / "tables" / "video_controls.csv", what="controls table")
