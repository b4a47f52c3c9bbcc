"""Fine-tuning one extractor on a labelled subset -> AUC on each evaluation set.

Torch extractors (a ``module``) become a :class:`~fakescope.models.detector.Detector` (a copy of
the module + a linear head) trained end to end through the run step
(:func:`fakescope.train.run.fit_or_reuse`: checkpoint chosen on validation AUC; a finished run
with the same settings and rows is reused, one with others refused or, with ``retrain``,
trained again) and scored with :func:`fakescope.train.run.score`. Frozen extractors (dlib,
hand-crafted) get a linear head: standardise + logistic regression on their features.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fakescope.config import TrainConfig, load_config
from fakescope.data.manifest import like
from fakescope.experiments.separability.config import StudyConfig
from fakescope.experiments.separability.features import feature_matrix
from fakescope.metrics.detection import roc_auc
from fakescope.models.feature_extractors import FeatureExtractor


def linear_head(feats, train, evals: dict[str, pd.DataFrame], seed: int) -> dict[str, float]:
    """Standardise + logistic regression fitted on ``train``'s features -> AUC per split."""
    xtr, tr = feature_matrix(feats, train)
    head = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    head.fit(xtr, tr["label"].to_numpy())
    out = {"train": roc_auc(tr["label"], head.decision_function(xtr))}
    for name, rows in evals.items():
        x, r = feature_matrix(feats, rows)
        out[name] = roc_auc(r["label"], head.decision_function(x)) if len(r) else float("nan")
    return out


def finetune_config(bb: FeatureExtractor, n_train: int, out: Path, cfg: StudyConfig, *,
                    checkpoint: str | Path | None = None) -> TrainConfig:
    """The training config of one fine-tuning: AdamW at ``finetune_lr``; the batch is at most
    ``batch_size`` and never leaves a last batch of one (BatchNorm breaks on it).
    ``checkpoint``: the extractor's starting weights, recorded so a run from another is refused.
    """
    bs = max(2, min(cfg.batch_size, n_train))
    while n_train % bs == 1 and bs > 2:
        bs -= 1
    settings: dict[str, Any] = {
        "data.image_size": bb.image_size, "data.cache_images": True, "model.name": bb.name,
        "optim.lr": cfg.finetune_lr, "train.epochs": cfg.finetune_epochs,
        "train.batch_size": bs, "train.seed": cfg.seed, "train.progress": False,
        "train.device": cfg.device or "auto", "out_dir": str(out)}
    if checkpoint:
        settings["model.checkpoint_path"] = str(checkpoint)
    return load_config(None, settings=settings)


def engine_finetune(bb: FeatureExtractor, train, val, evals: dict[str, pd.DataFrame], out: Path,
                    cfg: StudyConfig, *, checkpoint=None, retrain: bool = False,
                    log=None) -> dict[str, float]:
    """Train ``bb``'s module + a linear head on ``train`` (checkpoint chosen on ``val``) in the
    run folder ``out`` -> AUC of train and of each of ``evals``."""
    from fakescope.models.detector import Detector
    from fakescope.train.engine import seed_everything
    from fakescope.train.run import fit_or_reuse, score

    tc = finetune_config(bb, len(train), out, cfg, checkpoint=checkpoint)
    seed_everything(cfg.seed)  # the head's initial weights depend on the seed only
    model = Detector(copy.deepcopy(bb.module), bb.feature_dim, mean=bb.mean, std=bb.std,
                     arch={"name": bb.name, "image_size": bb.image_size})
    run = fit_or_reuse(tc, like(pd.concat([train, val]), train), out, model=model,
                       retrain=retrain, log=log)
    res = {}
    for name, rows in {"train": train, **evals}.items():
        if len(rows) == 0:
            res[name] = float("nan")
            continue
        scores = score(run, rows)
        res[name] = roc_auc(scores["label"], scores["p_fake"])
    return res


def finetune(bb: FeatureExtractor, feats, train, val, evals, out: Path, cfg: StudyConfig, *,
             checkpoint=None, retrain: bool = False, log=None) -> tuple[dict[str, float], str]:
    """Fine-tune (torch) or fit a linear head (frozen) -> ({split name: AUC}, the mode)."""
    if bb.module is not None:
        return (engine_finetune(bb, train, val, evals, out, cfg, checkpoint=checkpoint,
                                retrain=retrain, log=log), "fine-tuned end to end")
    return linear_head(feats, train, evals, cfg.seed), "linear head on frozen features"
