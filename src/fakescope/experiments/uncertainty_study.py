"""The uncertainty study (Kose et al., ICCV 2025 workshop): detectors x methods x generators.

For each detector (default ResNet-18, Xception, EfficientNet-B0, MobileNetV3), trained with the
engine (checkpoint chosen on the validation split) on a manifest with train/val/test splits:

- ``binary``: the real/fake detector scored on the test split by every uncertainty method
  (``mc``, ``mc_head``, ``bnn`` — the trained detector made Bayesian in its heads and
  fine-tuned with NLL + KL/N —, ``ensemble`` — ``ensemble_size`` detectors trained with
  different seeds —, ``tta``): AUC, accuracy, ECE/Brier/NLL of P(fake) and the mean
  uncertainty components, overall and per generator; temperature scaling fitted on validation.
- ``multiclass``: a detector trained on real + each generator; its predictions are the
  end-to-end source attribution.
- ``source``: a classifier on the uncertainty features of all detectors (concatenated)
  predicts the source; compared with one on their penultimate features and with the
  end-to-end multi-class detectors (balanced accuracy, confusion matrix).
- ``logo``: leave one generator out: train without generator g, test on g (unseen) and on the
  others (seen): AUC and uncertainty of unseen against seen.
- ``robustness``: JPEG / blur / noise / resize and FGSM / PGD against strength (``mc_head``).
- ``maps``: pixel maps (mean / variance of saliency over MC passes) scored against the
  manipulation masks (``mask_path``), per generator; region occlusion (facial regions when
  ``landmarks_path`` is present, else a grid); overlays for a few images.

Run folder ``OUT``: ``runs/<detector>/<experiment>/`` (engine runs; a finished run is reused),
``progress.json`` + ``progress_features.npz`` (results of finished detectors, reused when the
study is run again with the same options),
``scores/<detector>__<method>.csv`` (scores tables with ``unc_*`` columns), ``tables/`` and
``figures/`` via the report, ``study.json``. Default size and measured time: docs/uncertainty.md.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from fakescope.errors import ConfigError, DataError
from fakescope.models.registry import OFFLINE_PRETRAINED
from fakescope.report.plots import heatmap

log = logging.getLogger(__name__)

DEFAULT_DETECTORS = ("resnet18", "xception", "efficientnet_b0", "mobilenetv3")
DEFAULT_METHODS = ("mc", "mc_head", "bnn", "ensemble", "tta")
EXPERIMENTS = ("binary", "multiclass", "source", "logo", "robustness", "maps")


@dataclass
class UncertaintyStudyConfig:
    """Options of :func:`run_uncertainty_study` (defaults = the documented CPU size)."""

    detectors: list[str] = field(default_factory=lambda: list(DEFAULT_DETECTORS))
    methods: list[str] = field(default_factory=lambda: list(DEFAULT_METHODS))
    experiments: list[str] = field(default_factory=lambda: list(EXPERIMENTS))
    epochs: int = 2
    image_size: int = 64
    samples: int = 16
    dropout: float = 0.3
    ensemble_size: int = 3
    bnn_epochs: int = 1
    prior_sigma: float = 1.0
    batch_size: int = 32
    lr: float = 1e-3
    max_per_class: int = 120  # reals and fakes per split (fakes spread over generators; 0 = all)
    robustness_images: int = 48
    map_images: int = 24
    logo_max: int = 2  # leave-one-out over this many most frequent generators (0 = all)
    seed: int = 0
    device: str = "auto"
    progress: bool = False

    def validate(self) -> None:
        from fakescope.models.predict import METHODS

        bad = [m for m in self.methods if m not in METHODS or m == "none"]
        if bad:
            raise ConfigError(f"unknown uncertainty method(s) {bad}",
                              hint="use mc, mc_head, bnn, ensemble, tta")
        bad = [e for e in self.experiments if e not in EXPERIMENTS]
        if bad:
            raise ConfigError(f"unknown experiment(s) {bad}", hint=f"use {', '.join(EXPERIMENTS)}")
        if not self.detectors:
            raise ConfigError("no detectors given")
        from fakescope.models import list_detectors

        known = set(list_detectors())
        bad = [d for d in self.detectors if d not in known and not d.startswith("timm:")]
        if bad:
            raise ConfigError(f"unknown detector(s) {bad}", hint=f"choose from {', '.join(sorted(known))}")
        if self.samples < 2:
            raise ConfigError("samples must be >= 2 for a stochastic method")
        if self.epochs < 1 or self.image_size < 16:
            raise ConfigError("epochs must be >= 1 and image_size >= 16")


@dataclass
class StudyResult:
    out_dir: Path
    tables: dict[str, pd.DataFrame]
    figures: list[Path]
    numbers: dict[str, Any]
    seconds: float


# ---------------------------------------------------------------- data


def subsample(df: pd.DataFrame, per_class: int | None, seed: int) -> pd.DataFrame:
    """At most ``per_class`` reals and ``per_class`` fakes per split, seeded; keeps ``attrs``.

    Fakes are drawn evenly over generators (round-robin over sources in a seeded order), so
    every generator keeps about ``per_class / #generators`` images when it has that many.
    """
    if not per_class:
        return df
    rng = np.random.default_rng(seed)
    keep: list = []
    for split in sorted(df["split"].unique()):
        part = df[df["split"] == split]
        real = part.index[part["label"] == 0].to_numpy()
        keep.extend(rng.permutation(real)[:per_class].tolist())
        queues = [list(rng.permutation(g.index.to_numpy()))
                  for _, g in part[part["label"] == 1].groupby("source", sort=True)]
        taken = 0
        while taken < per_class and any(queues):
            for q in queues:
                if q and taken < per_class:
                    keep.append(q.pop())
                    taken += 1
    out = df.loc[sorted(keep)]
    out.attrs = dict(df.attrs)
    return out


def _check_manifest(df: pd.DataFrame) -> list[str]:
    for split in ("train", "val", "test"):
        if not (df["split"] == split).any():
            raise DataError(f"the manifest has no {split!r} rows", path=df.attrs.get("origin"),
                            hint="the study needs train, val and test splits")
        if df.loc[df["split"] == split, "label"].nunique() < 2:
            raise DataError(f"the {split!r} split needs real and fake rows",
                            path=df.attrs.get("origin"))
    gens = sorted(set(df.loc[df["label"] == 1, "source"].astype(str)))
    if not gens:
        raise DataError("no fake rows", path=df.attrs.get("origin"))
    return gens


def load_split(df: pd.DataFrame, split: str, size: int) -> tuple[torch.Tensor, pd.DataFrame, dict]:
    """Images ``(M, 3, S, S)`` of one split, its readable rows, and the skipped ``{path: error}``."""
    from fakescope.data.dataset import ManifestDataset
    from fakescope.data.manifest import select_split

    ds = ManifestDataset(select_split(df, split), image_size=size, on_error="skip")
    imgs, keep = [], []
    for i in range(len(ds)):
        item = ds[i]
        if item is not None:
            imgs.append(item["image"])
            keep.append(i)
    skipped = {str(ds.path(i)): e for i, e in ds.bad_items.items()}
    if not imgs:
        raise DataError(f"no readable image in the {split!r} split", path=df.attrs.get("origin"))
    rows = ds.df.iloc[keep].reset_index(drop=True)
    return torch.stack(imgs), rows, skipped


# ---------------------------------------------------------------- training


def _train_config(cfg: UncertaintyStudyConfig, detector: str, out: Path, *, target: str,
                  seed: int, epochs: int, loss: str = "ce"):
    from fakescope.config import TrainConfig

    tc = TrainConfig()
    tc.data.image_size = cfg.image_size
    tc.data.target = target
    tc.data.cache_images = True
    tc.model.name = detector
    tc.model.pretrained = detector in OFFLINE_PRETRAINED  # packaged weights, no hub
    tc.model.dropout = cfg.dropout
    tc.optim.lr = cfg.lr
    tc.loss.name = loss
    tc.train.epochs = epochs
    tc.train.batch_size = cfg.batch_size
    tc.train.eval_batch_size = max(cfg.batch_size, 64)
    tc.train.seed = seed
    tc.train.device = cfg.device
    tc.train.progress = cfg.progress
    tc.out_dir = str(out)
    return tc


def train_detector(cfg: UncertaintyStudyConfig, df: pd.DataFrame, detector: str, out: Path, *,
                   target: str = "binary", seed: int | None = None, model=None,
                   loss: str = "ce", epochs: int | None = None):
    """Train (or reuse a finished run in ``out``) -> the best-on-validation detector (eval)."""
    from fakescope.models.checkpoint import load_detector
    from fakescope.train.engine import Engine
    from fakescope.train.recipe import build_datasets, build_model

    done = out / "done.json"
    if done.is_file() and (out / "best" / "meta.json").is_file():
        return load_detector(out / "best")[0]
    seed = cfg.seed if seed is None else seed
    tc = _train_config(cfg, detector, out, target=target, seed=seed,
                       epochs=epochs or cfg.epochs, loss=loss)
    data = build_datasets(tc, df)
    if model is None:
        torch.manual_seed(seed)
        model = build_model(tc, data.class_names)
    engine = Engine(model, tc, out)
    result = engine.fit(data.train, data.val)
    engine.load_best()
    done.write_text(json.dumps({"best_epoch": result.best_epoch, "metric": result.metric,
                                "best": result.best_metric}))
    return engine.model.eval()


# ---------------------------------------------------------------- metrics


def _auc(labels, scores) -> float:
    from fakescope.metrics.detection import roc_auc

    return roc_auc(labels, scores)


def method_rows(detector: str, method: str, rows: pd.DataFrame, probs: torch.Tensor,
                seconds: float) -> tuple[dict, list[dict], pd.DataFrame]:
    """Summary row, per-generator rows and the scores table of one (detector, method)."""
    from fakescope.metrics.calibration import brier, ece, nll
    from fakescope.uncertainty.decompose import COMPONENTS, decompose

    d = decompose(probs)
    y = rows["label"].to_numpy()
    p = d["p_fake"]
    summary = {"detector": detector, "method": method, "n": len(y), "auc": _auc(y, p),
               "accuracy": float(np.mean((p >= 0.5) == (y > 0))),
               "ece": ece(p, y, n_bins=15), "brier": brier(p, y), "nll": nll(p, y),
               **{k: float(d[k].mean()) for k in COMPONENTS},
               "ms_per_image": 1000 * seconds / max(1, len(y))}
    per_gen = []
    src = rows["source"].astype(str).to_numpy()
    for g in sorted(set(src[y == 1])):
        m = (y == 0) | (src == g)
        sel = src == g
        per_gen.append({"detector": detector, "method": method, "generator": g,
                        "auc": _auc(y[m], p[m]), "p_fake": float(p[sel].mean()),
                        **{k: float(d[k][sel].mean()) for k in COMPONENTS}})
    scores = pd.DataFrame({"sample_id": rows["sample_id"], "label": y, "p_fake": p,
                           "source": src, "video_id": rows["video_id"], "split": rows["split"]})
    mean = d["mean_probs"]
    for k in range(mean.shape[1]):
        scores[f"logit_{k}"] = np.log(np.clip(mean[:, k], 1e-12, 1.0))
    for k in COMPONENTS:
        scores[f"unc_{k}"] = d[k]
    return summary, per_gen, scores


# ---------------------------------------------------------------- plots


# ---------------------------------------------------------------- the study


class _Study:
    def __init__(self, manifest: str | Path | pd.DataFrame, out_dir: str | Path,
                 cfg: UncertaintyStudyConfig):
        from fakescope.data.manifest import read_manifest

        cfg.validate()
        self.cfg = cfg
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        df = manifest if isinstance(manifest, pd.DataFrame) else read_manifest(manifest)
        self.generators = _check_manifest(df)
        self.df = subsample(df, cfg.max_per_class, cfg.seed)
        self.x_test, self.test_rows, skipped = load_split(self.df, "test", cfg.image_size)
        self.skipped = dict(skipped)
        self.rows: dict[str, list] = {k: [] for k in (
            "summary", "per_generator", "calibration", "logo", "robustness", "localisation",
            "occlusion")}
        self.features: dict[str, dict[str, np.ndarray]] = {"uncertainty": {}, "penultimate": {}}
        self.end_to_end: dict[str, np.ndarray] = {}
        self.figures: list[Path] = []
        self.done: list[str] = []
        self._load_progress()

    def run_dir(self, detector: str, name: str) -> Path:
        return self.out / "runs" / detector.replace(":", "_") / name

    # one detector ------------------------------------------------------
    def detector(self, det: str) -> None:
        cfg = self.cfg
        exps = set(cfg.experiments)
        needs_binary = exps & {"binary", "source", "robustness", "maps"}
        model = self._binary(det) if needs_binary else None
        if "multiclass" in exps or "source" in exps:
            self._multiclass(det)
        if "robustness" in exps:
            self._robustness(det, model)
        if "maps" in exps:
            self._maps(det, model)
        if "logo" in exps:
            self._logo(det)

    def _predict(self, members, method: str) -> tuple[torch.Tensor, float]:
        from fakescope.models.predict import predict_samples

        t0 = time.perf_counter()
        probs = predict_samples(members, self.x_test, method=method, samples=self.cfg.samples,
                                seed=self.cfg.seed, batch_size=max(self.cfg.batch_size, 64))
        return probs, time.perf_counter() - t0

    def _binary(self, det: str):
        from fakescope.models.bayesian import bayesianize
        from fakescope.scores import write_scores
        from fakescope.uncertainty.attribution import uncertainty_features

        cfg = self.cfg
        model = train_detector(cfg, self.df, det, self.run_dir(det, "binary"))
        self._calibration(det, model)
        with torch.no_grad():
            dev = next(model.parameters()).device
            feats = torch.cat([model.features(self.x_test[i:i + 128].to(dev)).cpu()
                               for i in range(0, len(self.x_test), 128)])
        self.features["penultimate"][det] = feats.numpy()
        for method in cfg.methods:
            if method == "ensemble":
                members = [model] + [
                    train_detector(cfg, self.df, det, self.run_dir(det, f"ensemble_{k}"),
                                   seed=cfg.seed + 1000 * k)
                    for k in range(1, cfg.ensemble_size)]
            elif method == "bnn":
                bnn = bayesianize(copy.deepcopy(model).cpu(), prior_sigma=cfg.prior_sigma)
                members = train_detector(cfg, self.df, det, self.run_dir(det, "bnn"), model=bnn,
                                         loss="bayes", epochs=cfg.bnn_epochs)
            else:
                members = model
            probs, secs = self._predict(members, method)
            summary, per_gen, scores = method_rows(det, method, self.test_rows, probs, secs)
            self.rows["summary"].append(summary)
            self.rows["per_generator"].extend(per_gen)
            write_scores(scores, self.out / "scores" / f"{det.replace(':', '_')}__{method}.csv")
            if method == self._feature_method():
                self.features["uncertainty"][det] = uncertainty_features(
                    probs, prefix=det).to_numpy()
        return model

    def _feature_method(self) -> str:
        return "mc_head" if "mc_head" in self.cfg.methods else self.cfg.methods[0]

    def _calibration(self, det: str, model) -> None:
        from fakescope.metrics.calibration import (
            apply_temperature,
            brier,
            ece,
            fit_temperature,
            nll,
        )
        from fakescope.models.predict import predict_samples

        x_val, val_rows, skipped = load_split(self.df, "val", self.cfg.image_size)
        self.skipped.update(skipped)
        logits = {}
        for name, x in (("val", x_val), ("test", self.x_test)):
            p = predict_samples(model, x, method="none", batch_size=128)[0].double()
            logits[name] = torch.log(p.clamp_min(1e-12)).numpy()
        t = fit_temperature(logits["val"], val_rows["label"].to_numpy())
        y = self.test_rows["label"].to_numpy()
        before = apply_temperature(logits["test"], 1.0)[:, 1]
        after = apply_temperature(logits["test"], t)[:, 1]
        row = {"detector": det, "temperature": t}
        for tag, p in (("", before), ("_ts", after)):
            row.update({f"ece{tag}": ece(p, y), f"ece_mass{tag}": ece(p, y, strategy="quantile"),
                        f"brier{tag}": brier(p, y), f"nll{tag}": nll(p, y)})
        self.rows["calibration"].append(row)

    def _multiclass(self, det: str) -> None:
        from fakescope.models.predict import predict_samples

        model = train_detector(self.cfg, self.df, det, self.run_dir(det, "multiclass"),
                               target="multiclass")
        probs = predict_samples(model, self.x_test, method="none", batch_size=128)[0]
        names = np.array(model.class_names)
        self.end_to_end[det] = names[probs.argmax(-1).numpy()]

    def _robustness(self, det: str, model) -> None:
        from fakescope.robustness.sweep import robustness_sweep

        n = min(self.cfg.robustness_images, len(self.x_test))
        idx = _balanced_index(self.test_rows["label"].to_numpy(), n, self.cfg.seed)
        method = "mc_head" if model.head_dropout.p > 0 else "none"
        t = robustness_sweep(model, self.x_test[idx], self.test_rows["label"].to_numpy()[idx],
                             method=method, samples=self.cfg.samples, seed=self.cfg.seed,
                             pgd_steps=5)
        t.insert(0, "detector", det)
        self.rows["robustness"].extend(t.to_dict("records"))

    def _maps(self, det: str, model) -> None:
        from fakescope.data.images import load_image
        from fakescope.data.manifest import resolve_path
        from fakescope.uncertainty import maps

        rows = self.test_rows
        fake = np.flatnonzero(rows["label"].to_numpy() == 1)
        has_mask = "mask_path" in rows.columns
        if has_mask:
            fake = np.array([i for i in fake if isinstance(rows.at[i, "mask_path"], str)
                             and rows.at[i, "mask_path"]], dtype=int)
        # spread the map images over generators
        src = rows["source"].astype(str).to_numpy()
        per = max(1, self.cfg.map_images // max(1, len(self.generators)))
        pick = np.concatenate([fake[src[fake] == g][:per] for g in self.generators]) if len(
            fake) else np.zeros(0, int)
        if not len(pick):
            return
        method = "mc_head" if model.head_dropout.p > 0 else "none"
        x = self.x_test[pick]
        pm = maps.pixel_maps(model, x, method=method, samples=self.cfg.samples, seed=self.cfg.seed)
        S = self.cfg.image_size
        fig_dir = self.out / "figures" / "maps" / det.replace(":", "_")
        for j, i in enumerate(pick):
            row = {"detector": det, "sample_id": rows.at[i, "sample_id"], "source": src[i]}
            if has_mask:
                try:
                    mask = load_image(resolve_path(self.df, rows.at[i, "mask_path"]))
                    row["auc_saliency_mean"] = maps.localisation_auc(pm["mean"][j], mask)
                    row["auc_saliency_variance"] = maps.localisation_auc(pm["variance"][j], mask)
                except DataError as exc:
                    self.skipped[str(rows.at[i, "mask_path"])] = str(exc)
            masks = self._region_masks(rows, i, S)
            occ = maps.occlusion_table(model, x[j], masks, method=method,
                                       samples=self.cfg.samples, seed=self.cfg.seed)
            if has_mask and "auc_saliency_mean" in row:
                heat = maps.regions_to_map(occ, masks, "delta_epistemic")
                row["auc_occlusion_epistemic"] = maps.localisation_auc(heat, mask)
                heat = maps.regions_to_map(occ, masks, "delta_p_fake")
                row["auc_occlusion_p_fake"] = maps.localisation_auc(-heat, mask)
            for r in occ.to_dict("records"):
                self.rows["occlusion"].append({"detector": det, "source": src[i], **r})
            self.rows["localisation"].append(row)
            if j < 2:
                stem = f"{src[i]}_{rows.at[i, 'sample_id']}"
                self.figures.append(maps.save_overlay(fig_dir / f"{stem}_uncertainty.png", x[j],
                                                      pm["variance"][j]))

    def _region_masks(self, rows: pd.DataFrame, i: int, size: int) -> dict[str, np.ndarray]:
        from fakescope.data.manifest import resolve_path
        from fakescope.uncertainty import maps

        lm_path = rows.at[i, "landmarks_path"] if "landmarks_path" in rows.columns else None
        if isinstance(lm_path, str) and lm_path:
            try:
                from fakescope.data.balance import load_landmarks
                from fakescope.data.images import load_image

                pts = load_landmarks(resolve_path(self.df, lm_path))
                if pts.shape == (68, 2):
                    h, w = load_image(resolve_path(self.df, rows.at[i, "path"])).shape[:2]
                    return maps.face_region_masks(maps.scale_landmarks(pts, (h, w), (size, size)),
                                                  size, size)
            except DataError as exc:
                self.skipped[str(lm_path)] = str(exc)
        return maps.grid_masks(size, size, grid=4)

    def _logo(self, det: str) -> None:
        from fakescope.uncertainty.decompose import decompose
        from fakescope.models.predict import predict_samples

        if len(self.generators) < 2:
            return
        y = self.test_rows["label"].to_numpy()
        src = self.test_rows["source"].astype(str).to_numpy()
        for g in self.logo_generators():
            keep = ~((self.df["label"] == 1) & (self.df["source"].astype(str) == g)
                     & self.df["split"].isin(["train", "val"]))
            train_df = self.df[keep]
            train_df.attrs = dict(self.df.attrs)
            model = train_detector(self.cfg, train_df, det, self.run_dir(det, f"logo_{g}"))
            method = "mc_head" if model.head_dropout.p > 0 else "none"
            probs = predict_samples(model, self.x_test, method=method, samples=self.cfg.samples,
                                    seed=self.cfg.seed, batch_size=128)
            d = decompose(probs)
            unseen, seen = src == g, (y == 1) & (src != g)
            row = {"detector": det, "generator": g,
                   "auc_unseen": _auc(y[(y == 0) | unseen], d["p_fake"][(y == 0) | unseen]),
                   "auc_seen": _auc(y[(y == 0) | seen], d["p_fake"][(y == 0) | seen])}
            for k in ("total", "epistemic", "aleatoric"):
                row[f"{k}_unseen"] = float(d[k][unseen].mean())
                row[f"{k}_seen"] = float(d[k][seen].mean()) if seen.any() else float("nan")
            self.rows["logo"].append(row)

    def logo_generators(self) -> list[str]:
        """The generators held out in turn: the ``logo_max`` most frequent (ties by name)."""
        fakes = self.df[self.df["label"] == 1]["source"].astype(str)
        counts = fakes.value_counts()
        order = sorted(counts.index, key=lambda g: (-counts[g], g))
        return order[:self.cfg.logo_max] if self.cfg.logo_max else order

    # the grid ----------------------------------------------------------
    def source(self) -> tuple[pd.DataFrame | None, dict]:
        from fakescope.uncertainty.attribution import compare_attribution

        if not self.features["uncertainty"]:
            return None, {}
        y = self.test_rows["source"].astype(str).to_numpy()
        y = np.where(self.test_rows["label"].to_numpy() == 0, "real", y)
        dets = list(self.features["uncertainty"])
        sets = {"uncertainty (all detectors)": np.hstack([self.features["uncertainty"][d]
                                                          for d in dets]),
                "penultimate (all detectors)": np.hstack([self.features["penultimate"][d]
                                                          for d in dets])}
        for d in dets:
            sets[f"uncertainty ({d})"] = self.features["uncertainty"][d]
        table, results = compare_attribution(sets, y, folds=5, seed=self.cfg.seed,
                                             groups=self.test_rows["video_id"].to_numpy(),
                                             min_per_class=2)
        rows = [table]
        for d, pred in self.end_to_end.items():
            from fakescope.uncertainty.attribution import prediction_metrics

            r = prediction_metrics(y, pred, name=f"end-to-end multi-class ({d})",
                                   classes=sorted(set(y)))
            results[f"end_to_end/{d}"] = r
            rows.append(pd.DataFrame([{**r.row(), "classifier": "multi-class detector"}]))
        return pd.concat(rows, ignore_index=True), results

    # progress: finished detectors are kept on disk and skipped when the study runs again --
    def _progress_key(self) -> dict:
        key = asdict(self.cfg)
        for k in ("detectors", "progress", "device"):
            key.pop(k)
        return _jsonable(key)

    def _load_progress(self) -> None:
        path, feats = self.out / "progress.json", self.out / "progress_features.npz"
        if not (path.is_file() and feats.is_file()):
            return
        state = json.loads(path.read_text())
        if state.get("config") != self._progress_key():
            log.info("uncertainty study: options changed, ignoring %s", path)
            return
        self.done = list(state["done"])
        self.rows = {k: list(v) for k, v in state["rows"].items()}
        self.end_to_end = {d: np.array(v) for d, v in state["end_to_end"].items()}
        self.figures = [Path(f) for f in state["figures"]]
        self.skipped.update(state.get("skipped", {}))
        with np.load(feats, allow_pickle=False) as z:
            for key in z.files:
                kind, det = key.split("::", 1)
                self.features[kind][det] = z[key]

    def _save_progress(self) -> None:
        state = {"config": self._progress_key(), "done": self.done, "rows": self.rows,
                 "end_to_end": {d: v.tolist() for d, v in self.end_to_end.items()},
                 "figures": [str(f) for f in self.figures], "skipped": self.skipped}
        tmp = self.out / "progress_features.tmp.npz"
        np.savez(tmp, **{f"{k}::{d}": a for k, v in self.features.items() for d, a in v.items()})
        tmp.replace(self.out / "progress_features.npz")
        tmp = self.out / "progress.json.tmp"
        tmp.write_text(json.dumps(_jsonable(state)))
        tmp.replace(self.out / "progress.json")

    def run(self) -> StudyResult:
        t0 = time.perf_counter()
        for det in self.cfg.detectors:
            if det in self.done:
                log.info("uncertainty study: %s already done, reusing its results", det)
                continue
            log.info("uncertainty study: %s", det)
            self.detector(det)
            self.done.append(det)
            self._save_progress()
        tables = {k: pd.DataFrame(v) for k, v in self.rows.items() if v}
        results = {}
        if "source" in self.cfg.experiments:
            src_table, results = self.source()
            if src_table is not None:
                tables["source_attribution"] = src_table
        if "localisation" in tables:
            from fakescope.uncertainty.maps import localisation_by_generator

            loc = tables["localisation"]
            if any(c.startswith("auc_") for c in loc.columns):
                tables["localisation_by_generator"] = pd.concat(
                    [localisation_by_generator(g).assign(detector=d)
                     for d, g in loc.groupby("detector")], ignore_index=True)
        if self.skipped:
            tables["skipped"] = pd.DataFrame({"path": list(self.skipped),
                                              "error": list(self.skipped.values())})
        figures = self._figures(tables, results)
        seconds = time.perf_counter() - t0
        numbers = self._numbers(tables, seconds)
        self._report(tables, figures, numbers)
        return StudyResult(self.out, tables, figures, numbers, seconds)

    def _figures(self, tables: dict, results: dict) -> list[Path]:
        figs = []
        fdir = self.out / "figures"
        pg = tables.get("per_generator")
        if pg is not None:
            for col, cmap in (("auc", "viridis"), ("epistemic", "magma")):
                piv = pg.pivot_table(index=["detector", "method"], columns="generator",
                                     values=col, sort=False)
                piv.index = [f"{d} / {m}" for d, m in piv.index]
                figs.append(heatmap(piv, fdir / f"heatmap_{col}.png",
                                    title=f"{col}: detector / method x generator",
                                    fmt=".3f" if col != "auc" else ".2f", cmap=cmap))
        logo = tables.get("logo")
        if logo is not None:
            piv = logo.pivot(index="detector", columns="generator", values="auc_unseen")
            figs.append(heatmap(piv, fdir / "heatmap_logo_auc_unseen.png",
                                title="AUC on the held-out generator"))
        for name, r in results.items():
            if name.startswith("uncertainty (all") or name.startswith("end_to_end/"):
                cm = r.confusion
                safe = name.split("/")[0].replace(" ", "_").replace("(", "").replace(")", "")
                tag = name.split("/")[-1] if "/" in name else ""
                figs.append(heatmap(cm, fdir / f"confusion_{safe}_{tag}.png",
                                    title=f"confusion: {name}", fmt=".0f", cmap="Blues"))
        return figs + self.figures

    def _numbers(self, tables: dict, seconds: float) -> dict:
        out: dict[str, Any] = {"seconds": seconds, "config": asdict(self.cfg),
                               "generators": self.generators, "n_test": len(self.test_rows)}
        if "summary" in tables:
            s = tables["summary"]
            out["auc"] = {f"{r.detector}/{r.method}": r.auc for r in s.itertuples()}
            out["epistemic"] = {f"{r.detector}/{r.method}": r.epistemic for r in s.itertuples()}
        if "logo" in tables:
            lg = tables["logo"]
            out["logo_mean_auc_unseen"] = float(lg["auc_unseen"].mean())
            out["logo_mean_auc_seen"] = float(lg["auc_seen"].mean())
            out["logo_epistemic_unseen_minus_seen"] = float(
                (lg["epistemic_unseen"] - lg["epistemic_seen"]).mean())
        if "source_attribution" in tables:
            t = tables["source_attribution"]
            out["source_balanced_accuracy"] = {f"{r.features}/{r.classifier}": r.balanced_accuracy
                                               for r in t.itertuples()}
        if "robustness" in tables:
            r = tables["robustness"]
            adv = r[r["kind"].isin(["fgsm", "pgd"]) & (r["strength"] > 0)]
            out["attacked_but_confident"] = float(adv["wrong_confident"].mean()) if len(
                adv) else float("nan")
        (self.out / "study.json").write_text(json.dumps(_jsonable(out), indent=2))
        return out

    def _report(self, tables: dict, figures: list[Path], numbers: dict) -> None:
        from fakescope.report import Report, Section

        text = (
            "Each detector is trained on the train split (checkpoint chosen on validation) and "
            "scored on the test split with every uncertainty method. total = predictive "
            "entropy H[mean_t p_t], aleatoric = mean_t H[p_t], epistemic = total - aleatoric "
            "(mutual information), variance = Var_t P(fake); natural log, so the maximum for "
            "real/fake is log 2 = 0.693.\n\n"
            "Heat maps cross detectors with generators (AUC of that generator's fakes against "
            "the reals, and mean epistemic uncertainty). Leave-one-generator-out trains without "
            "a generator and tests on it: a lower AUC and a higher epistemic uncertainty on the "
            "unseen generator than on the seen ones is the expected signature. Source "
            "attribution predicts real or the generator from uncertainty features (balanced "
            "accuracy; chance = 1 / #sources). Robustness rows with wrong_confident > 0 are the "
            "dangerous case: misclassified under attack with uncertainty below the clean median."
            f"\n\nGenerators: {', '.join(self.generators)}; {len(self.test_rows)} test images; "
            f"{numbers['seconds']:.0f} s.")
        Report(self.out).add(Section("uncertainty", "Uncertainty: detectors x generators",
                                     text=text, tables=tables,
                                     figures=[str(f) for f in figures],
                                     numbers=_jsonable(numbers), order=40))


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, Path):
        return str(x)
    return x


def _balanced_index(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` indices, half real half fake where possible, seeded, sorted."""
    rng = np.random.default_rng(seed)
    real, fake = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    k_real = min(len(real), n // 2)
    k_fake = min(len(fake), n - k_real)
    k_real = min(len(real), n - k_fake)
    idx = np.concatenate([rng.choice(real, k_real, replace=False),
                          rng.choice(fake, k_fake, replace=False)])
    return np.sort(idx)


def run_uncertainty_study(manifest: str | Path | pd.DataFrame, out_dir: str | Path,
                          cfg: UncertaintyStudyConfig | None = None) -> StudyResult:
    """Run the study grid on a manifest and write tables, heat maps and the report section."""
    return _Study(manifest, out_dir, cfg or UncertaintyStudyConfig()).run()
