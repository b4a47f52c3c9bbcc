"""Out-of-distribution statistics for a finished checkpoint (``fakescope ood-fit``).

Training fits them at its end (:meth:`fakescope.train.engine.Engine.fit`); a checkpoint trained
before that, or one to be refitted on other data, gets them from a manifest: the class means and
covariance of its features on the ``train`` split, the threshold at the ``quantile`` of the
``val`` split's distances (:mod:`fakescope.uncertainty.ood`). Its training config comes from the
checkpoint (image size, target, map window...), so the datasets are built as in training
(:func:`fakescope.train.recipe.build_datasets`; a map detector's clips are turned into signal
maps under ``cache``). When the checkpoint lacks a preprocessing record or a training-data
summary, the manifest's are written too (they describe what it was trained on only when the
manifest is its training manifest: the command says so).
"""

from __future__ import annotations

import copy
from pathlib import Path

from fakescope.config import config_from_dict
from fakescope.data.manifest import read_manifest
from fakescope.data.preprocessing import data_summary, training_record
from fakescope.errors import ConfigError, DataError
from fakescope.models.checkpoint import load_detector, read_meta, update_meta
from fakescope.models.device import resolve_device
from fakescope.train.recipe import build_datasets
from fakescope.train.signal_data import is_map_detector
from fakescope.uncertainty.ood import DEFAULT_QUANTILE, MAX_FIT, fit_detector_ood, save_ood


def checkpoint_config(meta: dict, manifest: str | Path, *, train_split: str, val_split: str):
    """The checkpoint's training config with the data taken from ``manifest``'s splits."""
    arch = meta["architecture"]
    training = copy.deepcopy(meta.get("training") or {})
    training.setdefault("model", {})["name"] = arch["name"]
    data = training.setdefault("data", {})
    data.update(manifest=str(manifest), train_split=train_split, val_split=val_split)
    if not is_map_detector(arch["name"]) and arch.get("image_size"):
        data["image_size"] = int(arch["image_size"])
    if int(arch.get("num_classes", 2)) > 2:
        data["target"] = "multiclass"
    try:
        return config_from_dict(training, origin="checkpoint meta.json")
    except ConfigError:  # written by another fakescope version: defaults + the data
        keep = {"manifest", "train_split", "val_split", "image_size", "target"}
        return config_from_dict({"model": {"name": arch["name"]},
                                 "data": {k: v for k, v in data.items() if k in keep}})


def fit_checkpoint_ood(checkpoint: str | Path, manifest: str | Path, *, train_split: str = "train",
                       val_split: str = "val", quantile: float = DEFAULT_QUANTILE,
                       batch_size: int = 64, device: str = "auto", limit: int | None = MAX_FIT,
                       cache: str | Path | None = None, say=None) -> dict:
    """Fit and store the OOD statistics of ``checkpoint`` from ``manifest``; returns the new
    ``meta.json["ood"]`` entry (plus ``"recorded"``: which missing records were written)."""
    folder = Path(checkpoint)
    folder = folder.parent if folder.is_file() else folder
    meta = read_meta(folder)
    dev = resolve_device(device)
    model, meta = load_detector(folder, device=dev)
    rows = read_manifest(manifest)
    cfg = checkpoint_config(meta, manifest, train_split=train_split, val_split=val_split)
    for split in (train_split, val_split):
        if not (rows["split"] == split).any():
            raise DataError(f"no rows in split {split!r}", path=manifest,
                            hint="--train-split / --val-split name the splits to fit on")
    data = build_datasets(cfg, rows, out=cache or folder.parent, say=say)
    if list(data.class_names) != list(model.class_names):
        raise DataError(f"the manifest's classes {data.class_names} are not the checkpoint's "
                        f"{list(model.class_names)}", path=manifest)
    stats = fit_detector_ood(model, data.train, data.val, batch_size=batch_size, device=dev,
                             quantile=quantile, limit=limit)
    save_ood(folder, stats, fitted_on=f"{manifest}: {train_split} split (means, covariance) and "
             f"{val_split} split (threshold), by fakescope ood-fit")
    recorded = []
    if not (meta.get("preprocessing") or {}).get("faces") and not is_map_detector(
            meta["architecture"]["name"]):
        update_meta(folder, preprocessing={"faces": {**training_record(data.train.df),
                                                     "recorded_by": "fakescope ood-fit"}})
        recorded.append("preprocessing.faces")
    if not meta.get("training_data"):
        update_meta(folder, training_data={**data_summary(data.train.df, data.val.df),
                                           "recorded_by": "fakescope ood-fit"})
        recorded.append("training_data")
    return {**read_meta(folder)["ood"], "recorded": recorded}
