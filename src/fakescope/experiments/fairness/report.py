"""The study's numbers from the scores tables: audits, the results table, per-group plots, the
verdict, and the report section.

Per method and test domain, :func:`fakescope.metrics.fairness.fairness_report` on
``skin_tone``, ``age_group``, ``gender`` and ``skin_tone*age_group``; the results table keeps the
intersection's AUC and gaps (x100) with their bootstrap intervals.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fakescope.experiments.fairness.config import GROUP_COLUMN, StudyConfig
from fakescope.metrics.fairness import SATURATED_PR, FairnessReport, fairness_report

#: (eval_set of the manifest, test domain) of the two test sets.
TEST_SETS = (("test_a", "studio"), ("test_b", "phone"))


@dataclass
class StudyResult:
    table: pd.DataFrame  # one row per (method, domain): auc, ci, gaps, gap CIs
    report_path: Path
    verdict: dict[str, Any]

    def summary_text(self) -> str:
        cols = ["method", "domain", "auc", "F_FPR", "F_OAE", "F_DP", "F_MEO", "AUC_gap"]
        lines = [self.table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}")]
        lines.append(self.verdict.get("text", ""))
        return "\n".join(lines)


def audit(scores: pd.DataFrame, cfg: StudyConfig) -> FairnessReport:
    """Fairness report of one test set's scores (small groups go to the report's warnings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fairness_report(scores, groups=["skin_tone", "age_group", "gender",
                                               "skin_tone*age_group"], intersect=False,
                               min_group_size=cfg.min_group_size, n_boot=cfg.n_boot,
                               seed=cfg.seed)


def rows_of(method: str, domain: str, rep: FairnessReport) -> tuple[dict, list[dict], list[dict]]:
    """``(results row, gaps_all rows, per-group rows)`` of one (method, domain) audit."""
    inter = rep.groupings["skin_tone*age_group"]
    lo, hi = inter.overall.ci.get("auc", (np.nan, np.nan))
    row = {"method": method, "domain": domain, "n": inter.overall.n, "auc": inter.overall.auc,
           "auc_lo": lo, "auc_hi": hi, "pr": inter.overall.pr, "resampled": inter.unit}
    for k, v in inter.gaps.items():
        row[k] = v
        row[f"{k}_lo"], row[f"{k}_hi"] = inter.gaps_ci.get(k, (np.nan, np.nan))
    gaps_all = [{"method": method, "domain": domain, **r}
                for r in rep.gaps_frame().to_dict("records")]
    groups = [{"method": method, "domain": domain, **r}
              for r in inter.groups_frame().to_dict("records")]
    return row, gaps_all, groups


def plot_groups(groups: pd.DataFrame, out: Path) -> list[str]:
    """Per-group FPR / TPR bars of every method, one figure per test domain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for domain, d in groups.groupby("domain", sort=False):
        methods = list(dict.fromkeys(d["method"]))
        names = sorted(d["group"].unique())
        fig, axes = plt.subplots(2, 1, figsize=(max(7, 0.9 * len(names) + 2), 6.5), sharex=True)
        width = 0.8 / max(1, len(methods))
        x = np.arange(len(names))
        for ax, rate in zip(axes, ("fpr", "tpr"), strict=True):
            for i, m in enumerate(methods):
                vals = d[d["method"] == m].set_index("group").reindex(names)[rate]
                ax.bar(x + (i - (len(methods) - 1) / 2) * width, vals, width, label=m)
            ax.set_ylabel(rate.upper())
            ax.set_ylim(0, 1)
            ax.grid(axis="y", alpha=0.3)
        axes[1].set_xticks(x, [n.replace("*", "\n") for n in names], fontsize=8)
        axes[0].legend(ncol=min(4, len(methods)), fontsize=8)
        axes[0].set_title(f"Per-group FPR / TPR (skin_tone x age_group), test domain {domain}")
        fig.tight_layout()
        p = out / "figures" / f"fairness_groups_{domain}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(str(p))
    return paths


def verdict(table: pd.DataFrame) -> dict[str, Any]:
    """Does ``combined`` lower cross-domain (phone) F_FPR and F_OAE relative to ERM, and at
    what AUC cost? Said from the numbers, with a caution when the rates are saturated."""
    t = table.set_index(["method", "domain"])
    if ("erm", "phone") not in t.index or ("combined", "phone") not in t.index:
        return {"text": "ERM or combined missing: no verdict."}
    e, c = t.loc[("erm", "phone")], t.loc[("combined", "phone")]
    d = {k: float(c[k] - e[k]) for k in ("F_FPR", "F_OAE", "auc")}
    reduced = d["F_FPR"] < 0 and d["F_OAE"] < 0
    sig = {k: bool(c[f"{k}_hi"] < e[f"{k}_lo"]) for k in ("F_FPR", "F_OAE")}
    text = (f"Cross-domain (phone), combined vs ERM: F_FPR {e['F_FPR']:.1f} -> {c['F_FPR']:.1f} "
            f"({d['F_FPR']:+.1f}), F_OAE {e['F_OAE']:.1f} -> {c['F_OAE']:.1f} "
            f"({d['F_OAE']:+.1f}), AUC {e['auc']:.3f} -> {c['auc']:.3f} ({d['auc']:+.3f}). "
            + ("Both gaps are lower" if reduced else "The combination does NOT lower both gaps")
            + (" and the 95% intervals do not overlap for "
               + ", ".join(k for k, v in sig.items() if v) if any(sig.values())
               else "; the bootstrap intervals overlap, so the difference is within noise")
            + ".")
    rates = {"erm": float(e["pr"]), "combined": float(c["pr"])}
    saturated = [m for m, pr in rates.items() if not 1 - SATURATED_PR < pr < SATURATED_PR]
    if saturated:
        called = ", ".join(f"{m} calls {rates[m]:.0%}" for m in saturated)
        text = (f"Caution: on the phone domain {called} of the test faces fake at the "
                "threshold, so F_FPR and F_OAE are near 0 by saturation, not fairness; judge by "
                "AUC_gap or a threshold set on the target domain. " + text)
    return {"reduced_both": reduced, "delta": d, "ci_separated": sig, "saturated": saturated,
            "meaningful": reduced and not saturated, "text": text}


def write_report(out: Path, cfg: StudyConfig, manifest: pd.DataFrame,
                 scores: dict[str, pd.DataFrame]) -> StudyResult:
    """Audit each method's test scores (``scores[method]``, both test sets in one table), write
    ``fairness_study.csv``, the figures and the report section; return the results."""
    from fakescope.report import Report, Section

    rows, gaps_all, groups = [], [], []
    for method, table in scores.items():
        for set_name, domain in TEST_SETS:
            sub = table[table["eval_set"] == set_name].reset_index(drop=True)
            row, ga, gr = rows_of(method, domain, audit(sub, cfg))
            rows.append(row)
            gaps_all += ga
            groups += gr
    table = pd.DataFrame(rows)
    groups_df = pd.DataFrame(groups)
    said = verdict(table)
    figures = plot_groups(groups_df, out)
    train = manifest[manifest["split"] == "train"]
    composition = pd.crosstab(train[GROUP_COLUMN], train["label"]).reset_index()
    composition.columns = ["group", "real", "fake"]
    show = ["method", "domain", "auc", "auc_lo", "auc_hi"] + [
        c for k in ("F_FPR", "F_OAE", "F_DP", "F_MEO", "AUC_gap", "F_EFPR", "F_EO", "F_G")
        for c in (k, f"{k}_lo", f"{k}_hi")]
    text = (f"Biased SynthFaces training set in domain studio ({cfg.identities} identities; "
            f"under-represented: {json.dumps(cfg.bias)}), detector {cfg.detector} at "
            f"{cfg.size} px, {cfg.epochs} epoch(s), seed {cfg.seed}. Gaps (x100) over the "
            "skin_tone x age_group groups, 95% bootstrap intervals "
            f"({cfg.n_boot} resamples of whole clusters: "
            f"{', '.join(sorted(set(table['resampled'])))}; gap intervals centred on their "
            "estimate, docs/fairness.md); intra-domain = studio test, cross-domain = phone test."
            f"\n\n{said['text']}")
    section = Section(key="fairness_study", title="Fairness generalisation study", text=text,
                      tables={"results": table[show], "groups": groups_df,
                              "gaps_all": pd.DataFrame(gaps_all),
                              "train_composition": composition},
                      figures=figures, numbers={"results": table.to_dict("records"),
                                                "verdict": said, "config": asdict(cfg)},
                      order=60)
    report_path = Report(out).add(section)
    table.to_csv(out / "fairness_study.csv", index=False)
    return StudyResult(table, report_path, said)
