"""The backbone separability study (Nguyen et al., IJCB 2023, with fakescope's own measure).

For every backbone: frozen features -> separability (metrics.separability) and a 2-D
projection; then fine-tuning on a small labelled subset -> in-domain AUC, cross-generator AUC
(each generator held out in turn) and the train-vs-validation gap; finally Spearman's rho
between separability and fine-tuned AUC across backbones, with a bootstrap CI.

Fine-tuning: torch backbones (timm, EfficientNet-Lite0, SimCLR, random) are trained end to end
with the training engine (``fakescope.train.engine.Engine``, checkpoint chosen on validation);
dlib and hand-crafted backbones are frozen and get a linear head (standardise + logistic
regression) on their features.

Run folder ``OUT``: ``features/<backbone>.npz`` (cache keyed by manifest hash and backbone
options), ``separability.csv``, ``finetune.csv``, ``correlation.csv``, ``skipped.csv``,
``figures/``, ``finetune/`` (engine runs), ``simclr/`` (a pre-trained checkpoint), report.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fakescope.data.images import load_image
from fakescope.data.manifest import read_manifest, resolve_path
from fakescope.errors import ConfigError, DataError
from fakescope.metrics.separability import backbone_separability, projection_plot, rank_correlation
from fakescope.models.feature_extractors import (
    FeatureExtractor,
    create_feature_extractor,
    list_feature_extractors,
)

log = logging.getLogger(__name__)
SEPARABILITY_SCORE = "ami_binary"  # the score correlated with fine-tuned AUC


@dataclass
class StudyConfig:
    """Options of :func:`run_separability_study`.

    ``per_class``: training images per class for fine-tuning (fakes spread over generators);
    ``sep_per_source``: images per source in the separability set; ``image_size`` overrides
    the input size of torch backbones; ``backbone_opts[name]`` go to ``create_feature_extractor``.
    """

    backbones: list[str] | None = None
    per_class: int = 200
    sep_per_source: int = 200
    finetune_epochs: int = 3
    finetune_lr: float = 1e-4
    batch_size: int = 32
    cross_generator: bool = True
    pca: int | None = 32
    n_boot: int = 100
    simclr_epochs: int = 5
    simclr_arch: str = "resnet18"
    image_size: int | None = None
    seed: int = 0
    device: str | None = None
    backbone_opts: dict[str, dict[str, Any]] = field(default_factory=dict)


# ------------------------------------------------------------------ data

def ensure_splits(df: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Keep train/val/test when the manifest has all three; else a seeded 60/20/20 split by
    identity (or video_id when identities are empty), so no identity spans two splits."""
    if {"train", "val", "test"} <= set(df["split"]):
        return df
    key = np.where(df["identity"].astype(str) != "", df["identity"].astype(str),
                   df["video_id"].astype(str))
    groups = np.unique(key)
    rng = np.random.default_rng(seed)
    u = dict(zip(groups, rng.random(len(groups)), strict=True))
    r = np.array([u[k] for k in key])
    out = df.copy()
    out["split"] = np.where(r < 0.6, "train", np.where(r < 0.8, "val", "test"))
    out.attrs = dict(df.attrs)
    return out


def sample_per_group(df: pd.DataFrame, column: str, n: int, *, seed: int) -> pd.DataFrame:
    """Up to ``n`` rows of each value of ``column`` (seeded), in manifest order."""
    parts = [g.sample(n=min(n, len(g)), random_state=seed) for _, g in df.groupby(column)]
    out = pd.concat(parts).sort_index() if parts else df.iloc[:0]
    out.attrs = dict(df.attrs)
    return out


def balanced_subset(df: pd.DataFrame, per_class: int, *, seed: int) -> pd.DataFrame:
    """``per_class`` real rows and ``per_class`` fake rows spread evenly over the sources."""
    real = df[df["label"] == 0]
    fake = df[df["label"] == 1]
    real = real.sample(n=min(per_class, len(real)), random_state=seed)
    sources = sorted(fake["source"].unique())
    if sources:
        per_src = max(1, per_class // len(sources))
        fake = sample_per_group(fake, "source", per_src, seed=seed)
    out = pd.concat([real, fake]).sort_index()
    out.attrs = dict(df.attrs)
    return out


def manifest_hash(df: pd.DataFrame) -> str:
    """sha256 of the manifest's sample ids and resolved paths (with file sizes)."""
    h = hashlib.sha256()
    for sid, p in zip(df["sample_id"], df["path"], strict=True):
        f = resolve_path(df, p)
        size = f.stat().st_size if f.is_file() else -1
        h.update(f"{sid}\t{f}\t{size}\n".encode())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ features (cached)

def _cache_file(out: Path, name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return out / "features" / f"{safe}.npz"


def cached_features(bb: FeatureExtractor, rows: pd.DataFrame, out: Path, *, key: str,
                    skipped: list[dict[str, str]], batch_size: int = 32) -> dict[str, np.ndarray]:
    """Features of ``rows`` as {sample_id: (D,)}; reads/extends ``features/<name>.npz`` when its
    key matches. Unreadable images are skipped and appended to ``skipped``."""
    path = _cache_file(out, bb.name)
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


def _matrix(feats: dict[str, np.ndarray], rows: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    ok = rows[rows["sample_id"].isin(list(feats))]
    ok.attrs = dict(rows.attrs)
    return np.stack([feats[s] for s in ok["sample_id"]]) if len(ok) else np.zeros((0, 1)), ok


# ------------------------------------------------------------------ fine-tuning

def _auc(y, s) -> float:
    y = np.asarray(y)
    return float(roc_auc_score(y, s)) if len(np.unique(y)) == 2 else float("nan")


def _linear_head(feats, train, evals: dict[str, pd.DataFrame], seed: int) -> dict[str, float]:
    xtr, tr = _matrix(feats, train)
    head = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    head.fit(xtr, tr["label"].to_numpy())
    out = {"train": _auc(tr["label"], head.decision_function(xtr))}
    for name, rows in evals.items():
        x, r = _matrix(feats, rows)
        out[name] = _auc(r["label"], head.decision_function(x)) if len(r) else float("nan")
    return out


def _engine_finetune(bb: FeatureExtractor, train, val, evals: dict[str, pd.DataFrame], out: Path,
                     cfg: StudyConfig) -> dict[str, float]:
    from safetensors.torch import load_file

    from fakescope.config import TrainConfig
    from fakescope.data.dataset import ManifestDataset
    from fakescope.models.detector import Detector
    from fakescope.train.engine import Engine

    tc = TrainConfig()
    tc.data.image_size = bb.image_size
    tc.optim.lr = cfg.finetune_lr
    tc.train.epochs = cfg.finetune_epochs
    bs = max(2, min(cfg.batch_size, len(train)))
    while len(train) % bs == 1 and bs > 2:  # a last batch of one breaks BatchNorm in training
        bs -= 1
    tc.train.batch_size = bs
    tc.train.seed = cfg.seed
    tc.train.progress = False
    tc.train.device = cfg.device or "auto"
    tc.model.name = bb.name
    tc.out_dir = str(out)
    model = Detector(copy.deepcopy(bb.module), bb.feature_dim, mean=bb.mean, std=bb.std,
                     arch={"name": bb.name, "image_size": bb.image_size})
    engine = Engine(model, tc, out)

    def ds(rows, augment=False):
        return ManifestDataset(rows, image_size=bb.image_size, augment=augment, seed=cfg.seed,
                               cache_images=True, on_error="skip")

    engine.fit(ds(train, augment=True), ds(val))
    # The engine chose the checkpoint on validation; load its weights into our model (the
    # backbone is not in the detector registry, so load_best cannot rebuild it).
    engine.model.load_state_dict(load_file(str(out / "best" / "model.safetensors")))
    res = {}
    for name, rows in {"train": train, **evals}.items():
        if len(rows) == 0:
            res[name] = float("nan")
            continue
        scores = engine.predict(ds(rows))
        res[name] = _auc(scores["label"], scores["p_fake"])
    return res


def finetune(bb: FeatureExtractor, feats, train, val, evals, out: Path, cfg: StudyConfig):
    """Fine-tune (torch) or fit a linear head (frozen) -> {split name: AUC}, plus the mode."""
    if bb.module is not None:
        return _engine_finetune(bb, train, val, evals, out, cfg), "fine-tuned end to end"
    return _linear_head(feats, train, evals, cfg.seed), "linear head on frozen features"


# ------------------------------------------------------------------ study

def _simclr_checkpoint(df: pd.DataFrame, out: Path, cfg: StudyConfig, mhash: str) -> Path:
    from fakescope.train.ssl import SimCLRConfig, pretrain_simclr

    ckpt = out / "simclr"
    meta = ckpt / "meta.json"
    want = {"manifest_hash": mhash, "seed": cfg.seed, "epochs": cfg.simclr_epochs,
            "arch": cfg.simclr_arch}
    if meta.is_file():
        m = json.loads(meta.read_text())
        if all(m.get(k) == v for k, v in want.items()):
            return ckpt
    size = cfg.image_size or 96
    pretrain_simclr(df, ckpt, SimCLRConfig(arch=cfg.simclr_arch, epochs=cfg.simclr_epochs,
                                           image_size=size, seed=cfg.seed, device=cfg.device,
                                           batch_size=min(64, max(2, cfg.batch_size))))
    m = json.loads(meta.read_text())
    m["manifest_hash"] = mhash
    meta.write_text(json.dumps(m, indent=2))
    return ckpt


def _build(name: str, df, out, cfg, mhash) -> FeatureExtractor:
    opts = dict(cfg.backbone_opts.get(name, {}))
    if name == "simclr" and "checkpoint_path" not in opts:
        opts["checkpoint_path"] = _simclr_checkpoint(df, out, cfg, mhash)
    if name.startswith("random:"):
        opts.setdefault("seed", cfg.seed)
    if cfg.image_size and (name.startswith(("timm:", "random:")) or name in
                           ("efficientnet_lite0", "simclr")):
        opts.setdefault("image_size", cfg.image_size)
    if cfg.device:
        opts.setdefault("device", cfg.device)
    return create_feature_extractor(name, **opts)


def run_separability_study(manifest: str | Path | pd.DataFrame, out_dir: str | Path,
                           cfg: StudyConfig | None = None) -> dict[str, pd.DataFrame]:
    """Run the study and add its section to ``OUT``'s report; returns the three tables."""
    cfg = cfg or StudyConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = read_manifest(manifest) if not isinstance(manifest, pd.DataFrame) else manifest
    names = list(cfg.backbones or list_feature_extractors(offline_only=True))
    if not names:
        raise ConfigError("no backbone to study")
    if df["label"].nunique() < 2:
        raise DataError("the study needs real and fake samples", path=df.attrs.get("origin"))
    df = ensure_splits(df, seed=cfg.seed)
    mhash = manifest_hash(df)
    generators = sorted(df.loc[df["label"] == 1, "source"].unique())
    test = df[df["split"] == "test"]
    sep_rows = sample_per_group(test if len(test) else df, "source", cfg.sep_per_source,
                                seed=cfg.seed)
    train = balanced_subset(df[df["split"] == "train"], cfg.per_class, seed=cfg.seed)
    val = balanced_subset(df[df["split"] == "val"], max(2, cfg.per_class // 2), seed=cfg.seed)
    for part in (train, val, test):
        part.attrs = dict(df.attrs)
    needed = pd.concat([sep_rows, train, val, test]).drop_duplicates("sample_id")
    needed.attrs = dict(df.attrs)

    sep_table, ft_table, skipped, figures = [], [], [], []
    for name in names:
        bb = _build(name, df, out, cfg, mhash)
        key = f"{mhash}:{name}:{json.dumps(bb.describe(), sort_keys=True, default=str)}"
        feats = cached_features(bb, needed, out, key=key, skipped=skipped,
                                batch_size=cfg.batch_size)
        x, rows = _matrix(feats, sep_rows)
        groups = rows["identity"].to_numpy() if (rows["identity"] != "").all() else None
        res = backbone_separability(x, rows["label"].to_numpy(), rows["source"].to_numpy(),
                                    groups=groups, pca=cfg.pca, n_boot=cfg.n_boot, seed=cfg.seed)
        sep_table.append({"backbone": name, "task": bb.task, **res.as_row()})
        fig = projection_plot(x, rows["source"].to_numpy(),
                              out / "figures" / f"separability_{_cache_file(out, name).stem}.png",
                              title=f"{name} ({bb.task})", seed=cfg.seed)
        figures.append(str(fig))

        evals = {"val": val, "test": test}
        ft_dir = out / "finetune" / _cache_file(out, name).stem
        aucs, mode = finetune(bb, feats, train, val, evals, ft_dir / "in_domain", cfg)
        row = {"backbone": name, "task": bb.task, "mode": mode, "train_auc": aucs["train"],
               "val_auc": aucs["val"], "test_auc": aucs["test"],
               "gap_train_val": aucs["train"] - aucs["val"]}
        if cfg.cross_generator and len(generators) >= 2:
            cross = []
            for g in generators:
                tr_g = train[train["source"] != g]
                va_g = val[val["source"] != g]
                te_g = test[(test["label"] == 0) | (test["source"] == g)]
                for part in (tr_g, va_g, te_g):
                    part.attrs = dict(df.attrs)
                a, _ = finetune(bb, feats, tr_g, va_g, {"heldout": te_g}, ft_dir / f"without_{g}",
                                cfg)
                row[f"cross_auc_{g}"] = a["heldout"]
                cross.append(a["heldout"])
            row["cross_generator_auc"] = float(np.nanmean(cross))
        ft_table.append(row)
        log.info("%s: %s=%.3f test AUC=%.3f", name, SEPARABILITY_SCORE,
                 sep_table[-1][SEPARABILITY_SCORE], row["test_auc"])

    sep = pd.DataFrame(sep_table)
    ft = pd.DataFrame(ft_table)
    corr_rows = []
    for score in (SEPARABILITY_SCORE, "silhouette", "probe_auc"):
        for target in ("test_auc", "cross_generator_auc"):
            if target in ft:
                c = rank_correlation(sep[score].to_numpy(), ft[target].to_numpy(),
                                     n_boot=1000, seed=cfg.seed)
                corr_rows.append({"separability": score, "fine_tuned": target, **c})
    corr = pd.DataFrame(corr_rows)
    sep.to_csv(out / "separability.csv", index=False)
    ft.to_csv(out / "finetune.csv", index=False)
    corr.to_csv(out / "correlation.csv", index=False)
    if skipped:
        pd.DataFrame(skipped).to_csv(out / "skipped.csv", index=False)
    _report(out, sep, ft, corr, figures, cfg, len(skipped))
    return {"separability": sep, "finetune": ft, "correlation": corr}


def _report(out, sep, ft, corr, figures, cfg, n_skipped) -> None:
    from fakescope.report import Report, Section

    main = corr[(corr["separability"] == SEPARABILITY_SCORE) & (corr["fine_tuned"] == "test_auc")]
    rho = main.iloc[0].to_dict() if len(main) else {}
    text = (
        "fakescope's backbone separability (docs/separability.md): frozen features are "
        "standardised, reduced by PCA, clustered by k-means (k = 2 and k = #sources) and compared "
        "with the true labels (AMI, ARI, purity); silhouette of the true labels; supervised "
        "references: cross-validated linear-probe AUC and kNN accuracy. Brackets in the CSV are "
        f"{int(cfg.n_boot)}-resample bootstrap 95% intervals.\n\n"
        f"Fine-tuning on {cfg.per_class} images per class for {cfg.finetune_epochs} epoch(s): "
        "torch backbones end to end (checkpoint chosen on validation); dlib and hand-crafted "
        "backbones are frozen with a linear head. Cross-generator AUC holds each generator out "
        "of training in turn.\n\n"
        f"Spearman rho between {SEPARABILITY_SCORE} and fine-tuned test AUC: "
        f"{rho.get('rho', float('nan')):.3f} (95% CI {rho.get('ci_low', float('nan')):.3f} to "
        f"{rho.get('ci_high', float('nan')):.3f}, n = {rho.get('n', 0)} backbones)."
        + (f"\n\n{n_skipped} unreadable image(s) skipped (skipped.csv)." if n_skipped else ""))
    cols = ["backbone", "task", "ami_binary", "ari_binary", "purity_binary", "ami_source",
            "silhouette", "probe_auc", "knn_accuracy"]
    numbers = {"rho": rho, "separability": sep.set_index("backbone")[cols[2:]].to_dict("index"),
               "finetune": ft.set_index("backbone").drop(columns=["task", "mode"]).to_dict("index")}
    Report(out).add(Section("separability", "Backbone separability", text=text,
                            tables={"separability": sep[cols], "fine_tuning": ft,
                                    "rank_correlation": corr},
                            figures=figures, numbers=numbers, order=60))
