"""The video study's detectors: out-of-fold clip scores of biological and blind detectors on the
whole benchmark, through the run step.

**Folds.** Identities are dealt in a seeded order into ``folds`` groups (:func:`assign_folds`).
For fold ``k`` the clips of group ``k`` are scored (split ``test``); of the other identities a
seeded ``val_fraction`` (at least one) is the validation split that picks the checkpoint and the
rest is trained on (:func:`fold_splits`). So every clip gets exactly one score, from a model that
never saw its person in training or validation. Every detector uses the same folds.

**Biological detectors** (``ppg_map``, ``motion_map``; the packaged recipes,
:mod:`fakescope.train.signal_data`) train on the clips' signal maps and score one row per clip:
``p_fake`` the mean of its windows' P(fake) per pass, the uncertainty of the per-pass clip
probabilities (:mod:`fakescope.train.map_scoring`). Their caches are shared by all folds:
signals in ``OUT/video_signals`` (ground-truth landmarks, no flow: the study's own signal step,
reused as it is) for ``ppg_map`` and ``OUT/video_signals_flow`` (Farneback flow) for
``motion_map``; maps in ``OUT/video_maps/<kind>_w<window>_s<stride>``.

**Blind detectors** (any image detector name: ``resnet18``, ``xception``, ``efficientnet_b0``,
``mobilenetv3``, ``tiny``) train from scratch on ``frames_per_clip`` evenly spaced face crops
per clip (:mod:`.frames`) at ``image_size`` px and score each frame; per pass a clip's
probabilities are the mean of its frames' (``score(per_video=True)``), so ``p_fake`` is the
mean over frames of P(fake) and the ``unc_*`` columns are the passes' disagreement about the
clip, as for the maps.

Scoring is ``method`` (default MC dropout, ``samples`` passes). Run folders
``OUT/video_models/<detector>/fold<k>`` are reused on a rerun when settings and rows match
(:func:`fakescope.train.run.fit_or_reuse`); their out-of-fold scores are cached in
``fold<k>/scores/oof.csv`` (``oof_clips.csv`` for a blind detector). Output per detector: ``OUT/tables/video_scores_<detector>.csv``,
one row per scored clip: ``sample_id, label, source, identity, domain, temporal_mode,
pulse_source, fold, p_fake, unc_total, unc_aleatoric, unc_epistemic, unc_variance`` (and
``n_frames``, the frames averaged, for a blind detector).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fakescope.config import TrainConfig, load_config
from fakescope.data.manifest import like
from fakescope.errors import ConfigError
from fakescope.experiments.video.frames import frame_manifest
from fakescope.signals.pipeline import extract_signals, merge_signals
from fakescope.train.run import fit_or_reuse, score
from fakescope.train.signal_data import MAP_DETECTORS, is_map_detector

#: The research's six detectors: two biological (signal maps), four blind (face frames).
VIDEO_DETECTORS = ("ppg_map", "motion_map", "resnet18", "xception", "efficientnet_b0",
                   "mobilenetv3")
#: Clip columns every scores table carries.
CLIP_COLUMNS = ("sample_id", "label", "source", "identity", "domain", "temporal_mode",
                "pulse_source")
UNC_COLUMNS = ("unc_total", "unc_aleatoric", "unc_epistemic", "unc_variance")
#: Optical flow each map kind's signals are extracted with.
MAP_FLOW = {"ppg": "none", "motion": "farneback"}


def family(detector: str) -> str:
    """``"biological"`` for a map detector, else ``"blind"``."""
    return "biological" if is_map_detector(detector) else "blind"


@dataclass
class DetectorOptions:
    """Options of :func:`run_detectors` (defaults: the documented CPU size)."""

    detectors: tuple[str, ...] = VIDEO_DETECTORS
    folds: int = 3
    val_fraction: float = 0.2
    map_epochs: int = 8
    blind_epochs: int = 4
    frames_per_clip: int = 8
    image_size: int = 64
    batch_size: int = 32
    method: str = "mc"
    samples: int = 16
    seed: int = 0
    workers: int = 1
    device: str = "auto"

    def check(self, n_identities: int) -> str | None:
        """Why the step cannot run on ``n_identities`` people (None: it can)."""
        if self.folds < 2:
            raise ConfigError(f"detector folds={self.folds}", hint="use 2 or more")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"val_fraction={self.val_fraction}", hint="use a value in (0, 1)")
        from fakescope.models import list_detectors

        bad = [d for d in self.detectors if d not in list_detectors() and
               not d.startswith("timm:")]
        if bad:
            raise ConfigError(f"unknown detector(s) {bad}",
                              hint=f"choose from {', '.join(list_detectors())}")
        need = 2 * self.folds
        if n_identities < need:
            return (f"{n_identities} identities, fewer than the {need} that {self.folds} folds "
                    "with a validation carve-out need")
        return None


@dataclass
class DetectorScores:
    """What :func:`run_detectors` made: ``scores`` {detector: clip scores table}, ``seconds``
    {detector: wall time}, ``skipped`` {detector: {sample_id: why}} (clips without a map),
    ``map_dirs`` {kind: map cache folder}, ``skip_reason`` (the step did not run)."""

    scores: dict[str, pd.DataFrame] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, dict[str, str]] = field(default_factory=dict)
    map_dirs: dict[str, Path] = field(default_factory=dict)
    skip_reason: str | None = None


def assign_folds(identities, folds: int, seed: int = 0) -> dict[str, int]:
    """{identity: fold in 0 .. folds-1}: the sorted unique identities in a seeded permutation,
    dealt round-robin (group sizes differ by at most one)."""
    uniq = sorted({str(i) for i in identities})
    order = np.random.default_rng(seed).permutation(len(uniq))
    return {uniq[j]: n % folds for n, j in enumerate(order)}


def fold_splits(identities, fold_of: dict[str, int], k: int, *, val_fraction: float,
                seed: int = 0) -> np.ndarray:
    """``(N,)`` split per row for fold ``k``: ``test`` for identities in fold ``k``, ``val``
    for a seeded ``max(1, round(val_fraction n))`` of the other ``n`` identities, else
    ``train``."""
    ids = np.array([str(i) for i in identities])
    rest = sorted({i for i in ids if fold_of[i] != k})
    n_val = max(1, int(round(val_fraction * len(rest))))
    val = set(np.random.default_rng(seed + 1 + k).choice(rest, n_val, replace=False).tolist())
    return np.array(["test" if fold_of[i] == k else "val" if i in val else "train"
                     for i in ids])


def with_splits(rows: pd.DataFrame, splits: np.ndarray) -> pd.DataFrame:
    """``rows`` with its ``split`` column replaced (attrs kept)."""
    out = rows.copy()
    out["split"] = splits
    return like(out, rows)


def map_cache_dir(out: Path, detector: str, cfg: TrainConfig) -> Path:
    d = cfg.data
    return out / "video_maps" / f"{MAP_DETECTORS[detector]}_w{d.map_window}_s{d.map_stride}"


def signals_dir(out: Path, detector: str) -> Path:
    """The shared signals folder of a map detector (see the module doc)."""
    flow = MAP_FLOW[MAP_DETECTORS[detector]]
    return out / ("video_signals" if flow == "none" else f"video_signals_{flow}")


def train_config(opts: DetectorOptions, detector: str, out: Path, run_dir: Path,
                 manifest_path: Path) -> TrainConfig:
    """The training config of one fold of ``detector``: the packaged recipe for a map detector
    (``map_epochs``), else ``detector`` from scratch at ``image_size`` (``blind_epochs``)."""
    common = {"train.batch_size": opts.batch_size, "train.seed": opts.seed,
              "train.device": opts.device, "train.progress": False, "out_dir": str(run_dir)}
    if is_map_detector(detector):
        cfg = load_config(detector, settings={**common, "data.manifest": str(manifest_path),
                                              "train.epochs": opts.map_epochs,
                                              "data.signal_workers": opts.workers})
        cfg.data.signals_dir = str(signals_dir(out, detector))
        cfg.data.map_cache = str(map_cache_dir(out, detector, cfg))
        return cfg
    return load_config(None, settings={
        **common, "data.manifest": str(manifest_path), "data.image_size": opts.image_size,
        "data.cache_images": True, "model.name": detector, "model.pretrained": False,
        "model.dropout": 0.3, "optim.lr": 1e-3, "train.epochs": opts.blind_epochs,
        "train.eval_batch_size": max(opts.batch_size, 64)})


def clip_table(scores: pd.DataFrame, clips: pd.DataFrame, fold: int) -> pd.DataFrame:
    """One row per scored clip (a clip scores table: ``sample_id`` the clip's), merged with the
    clips' :data:`CLIP_COLUMNS` and the ``fold``."""
    cols = ["p_fake", *[c for c in (*UNC_COLUMNS, "n_frames") if c in scores]]
    agg = scores.assign(sample_id=scores["sample_id"].astype(str)).set_index("sample_id")[cols]
    base = clips[[c for c in CLIP_COLUMNS if c in clips]].copy()
    base["sample_id"] = base["sample_id"].astype(str)
    out = base.merge(agg, left_on="sample_id", right_index=True, how="inner")
    out.insert(len(base.columns), "fold", fold)
    return out.reset_index(drop=True)


def _prepare_flow_signals(clips: pd.DataFrame, out: Path, opts: DetectorOptions,
                          progress: bool) -> None:
    for det in opts.detectors:
        if is_map_detector(det) and MAP_FLOW[MAP_DETECTORS[det]] != "none":
            extract_signals(clips, signals_dir(out, det), workers=opts.workers,
                            landmarks="manifest", flow=MAP_FLOW[MAP_DETECTORS[det]],
                            progress=progress)


def run_detector(detector: str, clips: pd.DataFrame, frames: pd.DataFrame | None, out: Path,
                 opts: DetectorOptions, fold_of: dict[str, int], *,
                 say: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, dict]:
    """Out-of-fold clip scores of one detector (module doc) and {sample_id: why} of the clips
    it could not score."""
    bio = is_map_detector(detector)
    rows = clips if bio else frames
    manifest_path = Path(rows.attrs.get("origin") or out / "video" / "manifest.csv")
    tables, skipped = [], {}
    for k in range(opts.folds):
        run_dir = out / "video_models" / detector / f"fold{k}"
        fold_rows = with_splits(rows, fold_splits(rows["identity"], fold_of, k,
                                                  val_fraction=opts.val_fraction,
                                                  seed=opts.seed))
        cfg = train_config(opts, detector, out, run_dir, manifest_path)
        run = fit_or_reuse(cfg, fold_rows, run_dir, log=say)
        test = like(fold_rows[fold_rows["split"] == "test"].reset_index(drop=True), rows)
        table = score(run, test, method=opts.method, samples=opts.samples, seed=opts.seed,
                      cache=run_dir / "scores" / ("oof.csv" if bio else "oof_clips.csv"),
                      per_video=not bio, log=say)
        for pos, err in (table.attrs.get("skipped") or {}).items():
            skipped[str(test["sample_id"].iloc[int(pos)])] = str(err)
        tables.append(clip_table(table, clips, k))
        if say:
            say(f"      {detector} fold {k}: {'reused' if run.reused else 'trained'} "
                f"(best validation AUC {run.best_metric:.3f}), {len(tables[-1])} clips scored")
    return pd.concat(tables, ignore_index=True), skipped


def run_detectors(clips: pd.DataFrame, out: str | Path, opts: DetectorOptions | None = None, *,
                  say: Callable[[str], None] | None = None,
                  progress: bool = False) -> DetectorScores:
    """Every detector of ``opts`` on the clips of ``clips`` (the study's video manifest), out of
    fold; writes ``OUT/tables/video_scores_<detector>.csv`` (see the module doc)."""
    opts = opts or DetectorOptions()
    out = Path(out)
    result = DetectorScores()
    result.skip_reason = opts.check(clips["identity"].nunique())
    if result.skip_reason:
        if say:
            say(f"video: detectors skipped: {result.skip_reason}")
        return result
    fold_of = assign_folds(clips["identity"], opts.folds, opts.seed)
    t0 = time.perf_counter()
    _prepare_flow_signals(clips, out, opts, progress)
    frames = None
    if any(not is_map_detector(d) for d in opts.detectors):
        frames = frame_manifest(clips, out / "video_frames", k=opts.frames_per_clip)
    prep = time.perf_counter() - t0
    try:
        for det in opts.detectors:
            t = time.perf_counter()
            if say:
                say(f"video: detector {det} ({family(det)}), {opts.folds} folds by identity")
            table, result.skipped[det] = run_detector(det, clips, frames, out, opts, fold_of,
                                                      say=say)
            result.scores[det] = table
            result.seconds[det] = time.perf_counter() - t
            if is_map_detector(det):
                cfg = train_config(opts, det, out, out, out)
                result.map_dirs[MAP_DETECTORS[det]] = map_cache_dir(out, det, cfg)
            table.to_csv(_table_path(out, det), index=False)
    finally:
        # one table over every clip of the study, in manifest order
        if (out / "video_signals" / "signals.csv").is_file():
            merge_signals(clips, out / "video_signals")
    result.seconds["frames_and_flow"] = prep
    return result


def _table_path(out: Path, detector: str) -> Path:
    path = out / "tables" / f"video_scores_{detector.replace(':', '_')}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
