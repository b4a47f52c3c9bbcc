"""The run step: train a detector on some rows (or reuse the run that already did), score others.

Every command and study that trains goes through these three calls::

    run = fit_or_reuse(cfg, rows, "runs/r18")     # trains, or reuses a finished run that matches
    scores = score(run, test_rows)                 # the scores table (see fakescope.scores)
    run = load_run("runs/r18/best")                # a finished checkpoint, for scoring only

A run folder is the engine's (``config.yaml``, ``best/``, ``last/``, ``metrics.csv``) plus
``run.json``::

    {"format": "fakescope-run/1", "finished": bool, "settings": TrainConfig.to_dict(),
     "rows": {"fingerprint": sha256, "columns": [...], "n_train": int, "n_val": int},
     "class_names": [...], "best_epoch": int, "best_metric": float, "metric": "auc"}

Reuse is allowed only when the recorded settings (all but where/how fast it runs:
:data:`~fakescope.train.resume.RESUME_FREE`) and the fingerprint of the training/validation rows
(sample id, path, label, split and the columns the config reads) both match; otherwise
:func:`fit_or_reuse` refuses with the differences, or, with ``retrain=True``, deletes the run's
files and trains again. An unfinished run with matching settings and rows resumes. Settings a
record lacks (it was written before the key existed, e.g. the map detectors' ``data.map_window``)
are not compared, so older runs of image detectors are still reused.

Map detectors (``ppg_map``, ``motion_map``) train on a video manifest's clips, one signal map
per window (:mod:`fakescope.train.signal_data`; the signal and map caches live under the run
folder and survive ``retrain``), and :func:`score` gives them one row per clip
(:mod:`fakescope.train.map_scoring`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fakescope.config import TrainConfig, config_from_dict
from fakescope.data.dataset import ManifestDataset
from fakescope.data.manifest import fingerprint, read_manifest
from fakescope.errors import ConfigError, DataError
from fakescope.models.checkpoint import load_detector, load_weights
from fakescope.models.detector import Detector
from fakescope.models.device import resolve_device
from fakescope.scores import read_scores, scores_table, write_scores
from fakescope.train.distributed import is_main_process
from fakescope.train.engine import Engine, predict_dataset
from fakescope.train.readable import missing_files, refuse_unreadable
from fakescope.train.recipe import build_datasets, build_model
from fakescope.train.resume import config_conflicts
from fakescope.train.signal_data import is_map_detector

FORMAT = "fakescope-run/1"
RECORD = "run.json"
#: What a run folder holds; ``retrain`` removes these and nothing else.
RUN_FILES = ("best", "last", "config.yaml", "metrics.csv", "history.json", "skipped.csv",
             RECORD, "done.json", "scores")  # not signals/ and maps/: caches kept on retrain


@dataclass
class Run:
    """A trained detector and what it was trained with.

    ``model`` is the best-on-validation detector in eval mode; ``out`` its run folder (None for
    a checkpoint loaded by :func:`load_run` outside a run folder); ``reused`` is True when
    :func:`fit_or_reuse` found the run finished instead of training it.
    """

    model: Detector
    config: TrainConfig
    out: Path | None = None
    best_epoch: int | None = None
    best_metric: float | None = None
    metric: str = "auc"
    reused: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def class_names(self) -> list[str]:
        return list(self.model.class_names)

    @property
    def detector_name(self) -> str:
        return str(self.model.arch.get("name") or self.config.model.name)

    @property
    def image_size(self) -> int:
        return int(self.model.arch.get("image_size") or self.config.data.image_size)

    @property
    def target(self) -> str:
        return "binary" if self.model.num_classes == 2 else "multiclass"

    @property
    def best_checkpoint(self) -> Path | None:
        return None if self.out is None else self.out / "best"

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the trained weights (keys score caches: a retrain invalidates them)."""
        weights = hashlib.sha256()
        for t in self.model.state_dict().values():
            weights.update(t.detach().cpu().contiguous().numpy().tobytes())
        return weights.hexdigest()


def row_columns(cfg: TrainConfig) -> list[str]:
    """The manifest columns a training reads (and so its fingerprint covers)."""
    d = cfg.data
    cols = ["sample_id", "path", "label", "split"]
    if d.target == "multiclass":
        cols.append("source")
    if d.group_column:
        cols.append(d.group_column)
    if d.sampler == "paired":
        cols.append(d.pair_column)
    if is_map_detector(cfg.model.name) and d.landmarks == "manifest":
        cols.append("landmarks_path")
    return cols


def rows_record(cfg: TrainConfig, rows: pd.DataFrame) -> dict[str, Any]:
    """``{"fingerprint", "columns", "n_train", "n_val"}`` of the rows a training uses."""
    d = cfg.data
    used = rows[rows["split"].isin((d.train_split, d.val_split))]
    cols = row_columns(cfg)
    return {"fingerprint": fingerprint(used, cols), "columns": cols,
            "n_train": int((used["split"] == d.train_split).sum()),
            "n_val": int((used["split"] == d.val_split).sum())}


def read_record(out: str | Path) -> dict[str, Any] | None:
    """The ``run.json`` of a run folder, or None when there is none."""
    path = Path(out) / RECORD
    if not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text())
    except ValueError as exc:
        raise DataError(f"not valid JSON: {exc}", path=path,
                        hint="delete the run folder or train again with retrain") from exc
    if rec.get("format") != FORMAT:
        raise DataError(f"unknown run format {rec.get('format')!r}", path=path)
    return rec


def differences(record: dict[str, Any] | None, cfg: TrainConfig,
                rows: dict[str, Any]) -> list[str]:
    """Why a run folder's record does not describe training ``cfg`` on ``rows`` (empty: it does)."""
    if record is None:
        return ["no run.json: made by an older fakescope, its settings and rows are unknown"]
    diffs = config_conflicts(record.get("settings") or {}, cfg)
    old = record.get("rows") or {}
    if old.get("fingerprint") != rows["fingerprint"]:
        diffs.append(f"training/validation rows: {old.get('n_train')} train + "
                     f"{old.get('n_val')} val -> {rows['n_train']} train + {rows['n_val']} val"
                     + (" (same counts, other rows)" if (old.get("n_train"), old.get("n_val"))
                        == (rows["n_train"], rows["n_val"]) else ""))
    return diffs


def _has_training(out: Path) -> bool:
    return any((out / p).exists() for p in ("best", "last", RECORD, "done.json"))


def _write_record(out: Path, record: dict[str, Any]) -> None:
    if is_main_process():
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / (RECORD + ".tmp")
        tmp.write_text(json.dumps(record, indent=1, default=str))
        tmp.replace(out / RECORD)


def clear_run(out: Path) -> None:
    """Delete a run folder's training files (:data:`RUN_FILES`), nothing else."""
    for name in RUN_FILES:
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def config_rows(cfg: TrainConfig) -> pd.DataFrame:
    """The manifest ``cfg.data.manifest`` names (ConfigError when it names none)."""
    if not cfg.data.manifest:
        raise ConfigError("data.manifest is not set", hint="--set data.manifest=PATH")
    return read_manifest(cfg.data.manifest)


def changed_settings(have: dict[str, Any] | None, want: dict[str, Any], *,
                     record: str = "settings record") -> list[str]:
    """``key: old -> new`` for each key of ``want`` whose recorded value in ``have`` differs;
    one line saying ``record`` is missing when ``have`` is None."""
    if have is None:
        return [f"no {record}: made by an older fakescope, its settings are unknown"]
    return [f"{k}: {have.get(k)!r} -> {v!r}" for k, v in want.items() if have.get(k) != v]


def refuse_unless_retrain(folder: Path, holds: str, diffs: list[str], *, retrain: bool,
                          hint: str | None = None, log=None, reason: str | None = None) -> None:
    """The run step's rule for anything a command keeps between runs: when ``diffs`` is not
    empty, raise a ConfigError (``FOLDER holds HOLDS (differences)``) unless ``retrain``, in
    which case only tell ``log`` (``FOLDER: REASON: retraining``; the caller then clears)."""
    if not diffs:
        return
    if not retrain:
        raise ConfigError(f"{folder} holds {holds} ({'; '.join(diffs)})",
                          hint=hint or "use another output folder, or retrain (--retrain), "
                          "which replaces it")
    if log:
        log(f"      {folder}: {reason or '; '.join(diffs)}: retraining")


def fit_or_reuse(cfg: TrainConfig, rows: pd.DataFrame | None = None,
                 out: str | Path | None = None, *, retrain: bool = False,
                 model: Detector | None = None, loss=None, log=None) -> Run:
    """Train ``cfg`` on the train/val splits of ``rows`` into ``out``, or reuse a finished run.

    ``rows``: a manifest (default: read ``cfg.data.manifest``). ``out``: the run folder
    (default ``cfg.out_dir``). A folder whose run was made with other settings or rows is
    refused (ConfigError listing each difference) unless ``retrain``, which deletes its training
    files and trains again. ``model``/``loss``: start from this detector / use this loss instead
    of the config's (their choice is the caller's to keep stable: it is not fingerprinted).
    ``log``: a ``print``-like callable told whether the run was reused or trained.
    """
    out = Path(out or cfg.out_dir)
    rows = config_rows(cfg) if rows is None else rows
    record = rows_record(cfg, rows)
    old = read_record(out)
    if _has_training(out):
        diffs = differences(old, cfg, record)
        refuse_unless_retrain(out, "a training made with other settings or rows", diffs,
                              retrain=retrain, log=log,
                              reason=f"other settings or rows ({'; '.join(diffs)})")
        if diffs:
            clear_run(out)
            old = None
        elif old and old.get("finished"):
            if log:
                log(f"      {out}: reusing the finished run (same settings and rows)")
            device = resolve_device(cfg.train.device)
            det = (load_weights(model.to(device), out / "best").eval() if model is not None
                   else load_detector(out / "best", device=device)[0])
            history = json.loads((out / "history.json").read_text()) \
                if (out / "history.json").is_file() else []
            return Run(det, cfg, out, old.get("best_epoch"), old.get("best_metric"),
                       old.get("metric", cfg.train.select_metric), True, history)
    _write_record(out, {"format": FORMAT, "finished": False, "settings": cfg.to_dict(),
                        "rows": record})
    data = build_datasets(cfg, rows, out=out, say=log)
    for ds, what in ((data.train, "training"), (data.val, "validation")):
        refuse_unreadable(ds, missing_files(ds), cfg.data.max_unreadable, what=what,
                          record=out / "skipped.csv")
    engine = Engine(model if model is not None else build_model(cfg, data.class_names), cfg,
                    out, loss=loss)
    result = engine.fit(data.train, data.val)
    engine.load_best()
    engine.model.eval()
    _write_record(out, {"format": FORMAT, "finished": True, "settings": cfg.to_dict(),
                        "rows": record, "class_names": data.class_names,
                        "best_epoch": result.best_epoch, "best_metric": result.best_metric,
                        "metric": result.metric})
    return Run(engine.model, cfg, out, result.best_epoch, result.best_metric, result.metric,
               False, result.history)


def load_run(checkpoint: str | Path, *, device: str = "auto") -> Run:
    """A finished checkpoint folder (``model.safetensors`` + ``meta.json``) as a :class:`Run`;
    its training config comes from the checkpoint's metadata (defaults when it has none)."""
    dev = resolve_device(device)
    det, meta = load_detector(checkpoint, device=dev)
    cfg = TrainConfig()
    if meta.get("training"):
        try:
            cfg = config_from_dict(meta["training"], origin=f"{checkpoint} (meta.json)")
        except ConfigError:
            cfg = TrainConfig()  # written by another fakescope version: score with defaults
    cfg.train.device = str(dev)
    folder = Path(checkpoint)
    folder = folder.parent if folder.is_file() else folder
    out = folder.parent if (folder.parent / RECORD).is_file() else None
    return Run(det, cfg, out, meta.get("epoch"))


def score(run: Run, rows: pd.DataFrame, *, method: str = "none", samples: int = 16,
          seed: int = 0, batch_size: int | None = None, cache: str | Path | None = None,
          per_video: bool = False, log=None, signals_backend=None) -> pd.DataFrame:
    """The scores table of ``rows`` under ``run.model`` (unreadable images skipped and listed in
    ``attrs["skipped"]``).

    ``method``: ``"none"`` (one deterministic pass; ``logit_k`` are the raw logits) or a
    stochastic method of :func:`fakescope.models.predict.predict` (``logit_k`` = log of the mean
    probabilities, plus ``unc_total, unc_aleatoric, unc_epistemic, unc_variance``).
    ``cache``: a scores file reused when it was written for this run, rows and method, else
    (re)written.

    A map detector scores clips: one row per clip of ``rows`` (its ``sample_id``), ``p_fake``
    the mean over its windows, the uncertainty columns per clip
    (:mod:`fakescope.train.map_scoring`), ``logit_k`` the log of the clip's mean probabilities
    for every method; clips without a map (too short, face lost; ``log`` is told) are in
    ``attrs["skipped"]`` by row position. The columns are those of image scores.
    ``signals_backend`` (a :class:`~fakescope.backends.Backend`) extracts their clips' signals.
    To spread image scoring over processes or a Ray cluster, see
    :func:`fakescope.train.score_tasks.score_rows`.

    ``per_video`` (an image detector on frames): one row per ``video_id`` instead of per
    frame, its ``sample_id`` the video id, ``n_frames`` the frames read; per pass the video's
    probabilities are the mean of its frames' (:func:`~fakescope.train.map_scoring.clip_means`),
    so the uncertainty columns are the passes' disagreement about the video, as for a map
    detector's clip.
    """
    key = None
    if cache is not None:
        cache = Path(cache)
        key = {"run": run.fingerprint, "rows": fingerprint(rows, ["path", "label"]),
               "method": method, "samples": samples if method != "none" else 1, "seed": seed}
        if per_video:
            key["per_video"] = True
        side = cache.with_name(cache.name + ".json")
        if cache.is_file() and side.is_file() and json.loads(side.read_text()) == key:
            table = read_scores(cache)
            table.attrs["skipped"] = {}
            return table
    device = resolve_device(run.config.train.device)
    if is_map_detector(run.detector_name):
        from fakescope.train.map_scoring import predict_clips

        clip = predict_clips(run.model, run.config, rows, out=run.out,
                             class_names=run.class_names, target=run.target, device=device,
                             method=method, samples=samples, seed=seed, batch_size=batch_size,
                             say=log, backend=signals_backend)
        table = _table(clip.clips, clip.positions, clip.probs, None, run.class_names,
                       stochastic=method != "none")
    else:
        ds = ManifestDataset(rows, image_size=run.image_size, target=run.target,
                             class_names=run.class_names, on_error="skip")
        try:
            pred = predict_dataset(run.model, ds, run.config, method=method, samples=samples,
                                   seed=seed, batch_size=batch_size, device=device)
        except DataError as exc:
            raise DataError(f"no readable image among {len(rows)} rows",
                            path=rows.attrs.get("origin")) from exc
        if per_video:
            table = _video_table(ds.df, pred.index.numpy(), pred.probs, run.class_names,
                                 stochastic=method != "none")
            table.attrs["skipped"] = dict(ds.bad_items)  # by frame row position
        else:
            table = _table(ds, pred.index.numpy(), pred.probs,
                           pred.logits.numpy() if method == "none" else None, run.class_names,
                           stochastic=method != "none")
    if cache is not None:
        write_scores(table, cache)
        cache.with_name(cache.name + ".json").write_text(json.dumps(key))
    return table


def _video_table(frames: pd.DataFrame, index, probs, class_names: list[str], *,
                 stochastic: bool) -> pd.DataFrame:
    """``score(per_video=True)``'s table: frame probabilities ``probs (T, N, C)`` of the rows
    ``index`` of ``frames`` averaged per ``video_id`` and pass; one row per video (the first
    frame's columns, ``sample_id`` = the video id) with ``n_frames``."""
    from fakescope.train.map_scoring import ClipRows, clip_means

    vids = frames["video_id"].astype(str).to_numpy()
    order = pd.unique(vids)
    video_probs, positions = clip_means(probs, vids[index], order)
    first = frames.drop_duplicates("video_id").reset_index(drop=True)
    first["sample_id"] = first["video_id"].astype(str)
    table = _table(ClipRows(first), positions, video_probs, None, class_names,
                   stochastic=stochastic)
    counts = pd.Series(vids[index]).value_counts()
    table["n_frames"] = [int(counts[order[p]]) for p in positions]
    return table


def _table(ds, index, probs, logits, class_names: list[str], *,
           stochastic: bool) -> pd.DataFrame:
    """The scores table of items ``index`` of ``ds`` from probabilities ``(T, N, C)``: with
    ``logits`` (one deterministic pass) those are the ``logit_k``; without, ``logit_k`` is the
    log of the mean probabilities; ``stochastic`` adds the uncertainty columns."""
    if logits is not None:
        return scores_table(ds, index, logits, class_names)
    mean = probs.mean(0).clamp_min(1e-12)
    table = scores_table(ds, index, mean.log().numpy(), class_names)
    if stochastic:
        from fakescope.uncertainty.decompose import uncertainty_columns

        for k, v in uncertainty_columns(probs).items():
            if k.startswith("unc_"):
                table[k] = v
    return table
