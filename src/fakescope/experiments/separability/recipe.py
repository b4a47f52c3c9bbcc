"""The separability study, top to bottom: for each extractor, frozen features -> separability
and a projection; fine-tuning -> in-domain and cross-generator AUC; then the rank correlation
across extractors, the tables and the report section."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from fakescope.data.manifest import like, read_manifest, subset
from fakescope.errors import ConfigError, DataError
from fakescope.experiments.separability.config import SEPARABILITY_SCORE, StudyConfig
from fakescope.experiments.separability.data import (
    balanced_subset,
    ensure_splits,
    manifest_hash,
    sample_per_group,
)
from fakescope.experiments.separability.features import (
    cached_features,
    extractor_options,
    feature_matrix,
    features_key,
    safe_name,
)
from fakescope.experiments.separability.finetune import finetune
from fakescope.experiments.separability.report import add_section, correlations
from fakescope.metrics.separability import backbone_separability, projection_plot
from fakescope.models.feature_extractors import create_feature_extractor, list_feature_extractors

logger = logging.getLogger(__name__)


def run_separability_study(manifest: str | Path | pd.DataFrame, out_dir: str | Path,
                           cfg: StudyConfig | None = None, *, retrain: bool = False,
                           log=None) -> dict[str, pd.DataFrame]:
    """Run the study and add its section to ``OUT``'s report; returns the three tables
    (``separability``, ``finetune``, ``correlation``).

    Fine-tuning runs (``OUT/finetune/<extractor>/<in_domain|without_<g>>``) and the SimCLR
    checkpoint are reused when their settings match and refused otherwise (ConfigError), unless
    ``retrain``. ``log``: a ``print``-like callable told about reuse.
    """
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
    test = subset(df, df["split"] == "test", reset_index=False)
    sep_rows = sample_per_group(test if len(test) else df, "source", cfg.sep_per_source,
                                seed=cfg.seed)
    train = balanced_subset(subset(df, df["split"] == "train", reset_index=False),
                            cfg.per_class, seed=cfg.seed)
    val = balanced_subset(subset(df, df["split"] == "val", reset_index=False),
                          max(2, cfg.per_class // 2), seed=cfg.seed)
    needed = like(pd.concat([sep_rows, train, val, test]).drop_duplicates("sample_id"), df)

    sep_table, ft_table, skipped, figures = [], [], [], []
    for name in names:
        # frozen features -> separability and a 2-D projection
        opts = extractor_options(name, df, out, cfg, mhash, retrain=retrain, log=log)
        bb = create_feature_extractor(name, **opts)
        feats = cached_features(bb, needed, out, key=features_key(mhash, bb, opts),
                                skipped=skipped, batch_size=cfg.batch_size)
        x, rows = feature_matrix(feats, sep_rows)
        groups = rows["identity"].to_numpy() if (rows["identity"] != "").all() else None
        res = backbone_separability(x, rows["label"].to_numpy(), rows["source"].to_numpy(),
                                    groups=groups, pca=cfg.pca, n_boot=cfg.n_boot, seed=cfg.seed)
        sep_table.append({"backbone": name, "task": bb.task, **res.as_row()})
        fig = projection_plot(x, rows["source"].to_numpy(),
                              out / "figures" / f"separability_{safe_name(name)}.png",
                              title=f"{name} ({bb.task})", seed=cfg.seed)
        figures.append(str(fig))

        # fine-tuning: in-domain, then without each generator in turn
        ft_dir = out / "finetune" / safe_name(name)
        kw = {"checkpoint": opts.get("checkpoint_path"), "retrain": retrain, "log": log}
        aucs, mode = finetune(bb, feats, train, val, {"val": val, "test": test},
                              ft_dir / "in_domain", cfg, **kw)
        row = {"backbone": name, "task": bb.task, "mode": mode, "train_auc": aucs["train"],
               "val_auc": aucs["val"], "test_auc": aucs["test"],
               "gap_train_val": aucs["train"] - aucs["val"]}
        if cfg.cross_generator and len(generators) >= 2:
            cross = []
            for g in generators:
                heldout = subset(test, (test["label"] == 0) | (test["source"] == g),
                                 reset_index=False)
                a, _ = finetune(bb, feats, subset(train, train["source"] != g, reset_index=False),
                                subset(val, val["source"] != g, reset_index=False),
                                {"heldout": heldout}, ft_dir / f"without_{g}", cfg, **kw)
                row[f"cross_auc_{g}"] = a["heldout"]
                cross.append(a["heldout"])
            row["cross_generator_auc"] = float(np.nanmean(cross))
        ft_table.append(row)
        logger.info("%s: %s=%.3f test AUC=%.3f", name, SEPARABILITY_SCORE,
                    sep_table[-1][SEPARABILITY_SCORE], row["test_auc"])

    sep, ft = pd.DataFrame(sep_table), pd.DataFrame(ft_table)
    corr = correlations(sep, ft, seed=cfg.seed)
    sep.to_csv(out / "separability.csv", index=False)
    ft.to_csv(out / "finetune.csv", index=False)
    corr.to_csv(out / "correlation.csv", index=False)
    if skipped:
        pd.DataFrame(skipped).to_csv(out / "skipped.csv", index=False)
    add_section(out, sep, ft, corr, figures, cfg, len(skipped))
    return {"separability": sep, "finetune": ft, "correlation": corr}
