"""Frozen feature extractors and their features (cached per extractor), and the SimCLR
checkpoint the ``simclr`` extractor starts from when none is given.

``OUT/features/<name>.npz`` holds ``key``, ``sample_id (M,)`` and ``features (M, D)``; it is
read (and extended) only when its key — manifest hash, extractor name, its description and its
checkpoint — matches. ``OUT/simclr/`` is a SimCLR run (:func:`fakescope.train.ssl.pretrain_simclr`)
reused only when its settings and the manifest hash match; otherwise refused, or with
``retrain`` pre-trained again, deleting the features and fine-tuning runs made from the old one.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fakescope.data.images import load_image
from fakescope.data.manifest import resolve_path, subset
from fakescope.errors import DataError
from fakescope.experiments.separability.config import StudyConfig
from fakescope.models.feature_extractors import FeatureExtractor
from fakescope.train.run import changed_settings, refuse_unless_retrain


def safe_name(name: str) -> str:
    """``name`` as a file name (``random:resnet18`` -> ``random_resnet18``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def cache_file(out: Path, name: str) -> Path:
    return out / "features" / f"{safe_name(name)}.npz"


def extractor_options(name: str, df: pd.DataFrame, out: Path, cfg: StudyConfig, mhash: str, *,
                      retrain: bool = False, log=None) -> dict[str, Any]:
    """The ``create_feature_extractor`` options of ``name`` in this study (seed, input size,
    device, and for ``simclr`` the checkpoint, pre-trained here when none is given)."""
    opts = dict(cfg.backbone_opts.get(name, {}))
    if name == "simclr" and "checkpoint_path" not in opts:
        opts["checkpoint_path"] = simclr_checkpoint(df, out, cfg, mhash, retrain=retrain, log=log)
    if name.startswith("random:"):
        opts.setdefault("seed", cfg.seed)
    if cfg.image_size and (name.startswith(("timm:", "random:")) or name in
                           ("efficientnet_lite0", "simclr")):
        opts.setdefault("image_size", cfg.image_size)
    if cfg.device:
        opts.setdefault("device", cfg.device)
    return opts


def simclr_checkpoint(df: pd.DataFrame, out: Path, cfg: StudyConfig, mhash: str, *,
                      retrain: bool = False, log=None) -> Path:
    """``OUT/simclr``: SimCLR pre-trained on the real faces of ``df`` (reused when it matches)."""
    from fakescope.train.ssl import SimCLRConfig, pretrain_simclr

    ckpt = out / "simclr"
    meta = ckpt / "meta.json"
    scfg = SimCLRConfig(arch=cfg.simclr_arch, epochs=cfg.simclr_epochs,
                        image_size=cfg.image_size or 96, seed=cfg.seed, device=cfg.device,
                        batch_size=min(64, max(2, cfg.batch_size)))
    want = {"manifest_hash": mhash, **{k: v for k, v in asdict(scfg).items() if k != "device"}}
    if meta.is_file():
        diffs = changed_settings(json.loads(meta.read_text()), want)
        if not diffs:
            if log:
                log(f"      {ckpt}: reusing the SimCLR checkpoint (same settings and manifest)")
            return ckpt
        refuse_unless_retrain(ckpt, "a SimCLR checkpoint made with other settings or images",
                              diffs, retrain=retrain)
        # what was computed from the old checkpoint is stale
        shutil.rmtree(out / "finetune" / safe_name("simclr"), ignore_errors=True)
        cache_file(out, "simclr").unlink(missing_ok=True)
    pretrain_simclr(df, ckpt, scfg)
    m = json.loads(meta.read_text())
    m["manifest_hash"] = mhash
    meta.write_text(json.dumps(m, indent=2))
    return ckpt


def features_key(mhash: str, bb: FeatureExtractor, opts: dict[str, Any]) -> str:
    """What the cached features of ``bb`` depend on."""
    key = f"{mhash}:{bb.name}:{json.dumps(bb.describe(), sort_keys=True, default=str)}"
    return key + (f":{opts['checkpoint_path']}" if opts.get("checkpoint_path") else "")


def cached_features(bb: FeatureExtractor, rows: pd.DataFrame, out: Path, *, key: str,
                    skipped: list[dict[str, str]], batch_size: int = 32) -> dict[str, np.ndarray]:
    """Features of ``rows`` as {sample_id: (D,)}; reads/extends ``features/<name>.npz`` when its
    key matches. Unreadable images are skipped and appended to ``skipped``."""
    path = cache_file(out, bb.name)
    have: dict[str, np.ndarray] = {}
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) == key:
                have = dict(zip(z["sample_id"].tolist(), z["features"], strict=True))
    todo = rows[~rows["sample_id"].isin(list(have))]
    ids, imgs = [], []
    for sid, p in zip(todo["sample_id"], todo["path"], strict=True):
        try:
            imgs.append(load_image(resolve_path(rows, p)))
            ids.append(sid)
        except DataError as exc:
            skipped.append({"backbone": bb.name, "sample_id": sid, "path": p,
                            "error": exc.problem})
    if ids:
        feats = bb.extract(imgs, batch_size=batch_size)
        have.update(zip(ids, feats, strict=True))
        path.parent.mkdir(parents=True, exist_ok=True)
        order = sorted(have)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, key=np.array(key), sample_id=np.array(order),
                 features=np.stack([have[s] for s in order]).astype(np.float32))
        tmp.replace(path)
    return have


def feature_matrix(feats: dict[str, np.ndarray],
                   rows: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """``(X (M, D), the M rows of rows that have features)``, in the rows' order."""
    ok = subset(rows, rows["sample_id"].isin(list(feats)), reset_index=False)
    return np.stack([feats[s] for s in ok["sample_id"]]) if len(ok) else np.zeros((0, 1)), ok
