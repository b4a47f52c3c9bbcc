"""Rank correlations between separability and fine-tuned AUC, and the report section."""

from __future__ import annotations

import pandas as pd

from fakescope.experiments.separability.config import SEPARABILITY_SCORE
from fakescope.metrics.separability import rank_correlation


def correlations(sep: pd.DataFrame, ft: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """Spearman's rho (1000-resample bootstrap CI over backbones) of each separability score
    (``ami_binary``, silhouette, probe AUC) with fine-tuned test and cross-generator AUC."""
    rows = []
    for score in (SEPARABILITY_SCORE, "silhouette", "probe_auc"):
        for target in ("test_auc", "cross_generator_auc"):
            if target in ft:
                c = rank_correlation(sep[score].to_numpy(), ft[target].to_numpy(),
                                     n_boot=1000, seed=seed)
                rows.append({"separability": score, "fine_tuned": target, **c})
    return pd.DataFrame(rows)


def add_section(out, sep, ft, corr, figures, cfg, n_skipped) -> None:
    """The "Backbone separability" section of ``OUT``'s report."""
    from fakescope.report import Report, Section

    main = corr[(corr["separability"] == SEPARABILITY_SCORE) & (corr["fine_tuned"] == "test_auc")]
    rho = main.iloc[0].to_dict() if len(main) else {}
    first = sep.iloc[0] if len(sep) else {}
    chance = {k: float(first.get(f"{k}_chance", float("nan"))) for k in
              ("purity_binary", "purity_source")} if len(sep) else {}
    resampled = str(first.get("resampled", "")) if len(sep) else ""
    text = (
        "fakescope's backbone separability (docs/separability.md): frozen features are "
        "standardised, reduced by PCA, clustered by k-means (k = 2 and k = #sources) and compared "
        "with the true labels (AMI, ARI, purity); silhouette of the true labels; supervised "
        "references: cross-validated linear-probe AUC and kNN accuracy. Brackets in the CSV are "
        f"95% intervals from {int(cfg.n_boot)} half-samples ({resampled}), every step refitted "
        "on each (docs/separability.md).\n\n"
        f"Chance levels: AMI, ARI and silhouette 0, probe AUC 0.5; purity_binary and kNN "
        f"accuracy {chance.get('purity_binary', float('nan')):.3f} (the larger class share, "
        f"not 0.5), purity_source {chance.get('purity_source', float('nan')):.3f} (the largest "
        "source's share); the table's *_chance columns repeat them.\n\n"
        f"Fine-tuning on {cfg.per_class} images per class for {cfg.finetune_epochs} epoch(s): "
        "torch backbones end to end (checkpoint chosen on validation); dlib and hand-crafted "
        "backbones are frozen with a linear head. Cross-generator AUC holds each generator out "
        "of training in turn.\n\n"
        f"Spearman rho between {SEPARABILITY_SCORE} and fine-tuned test AUC: "
        f"{rho.get('rho', float('nan')):.3f} (95% CI {rho.get('ci_low', float('nan')):.3f} to "
        f"{rho.get('ci_high', float('nan')):.3f}, n = {rho.get('n', 0)} backbones)."
        + (f"\n\n{n_skipped} unreadable image(s) skipped (skipped.csv)." if n_skipped else ""))
    cols = ["backbone", "task", "ami_binary", "ari_binary", "purity_binary",
            "purity_binary_chance", "ami_source", "purity_source", "purity_source_chance",
            "silhouette", "probe_auc", "knn_accuracy", "knn_accuracy_chance"]
    numbers = {"rho": rho, "separability": sep.set_index("backbone")[cols[2:]].to_dict("index"),
               "finetune": ft.set_index("backbone").drop(columns=["task", "mode"]).to_dict("index")}
    Report(out).add(Section("separability", "Backbone separability", text=text,
                            tables={"separability": sep[cols], "fine_tuning": ft,
                                    "rank_correlation": corr},
                            figures=figures, numbers=numbers, order=60))
