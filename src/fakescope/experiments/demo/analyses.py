"""Analyses the demo adds to its report, each reading the detectors' runs and test scores.

Each analysis is ``fn(report, runs: {detector: Run}, scores: {detector: DataFrame},
test_manifest, out_dir, cfg)`` and adds one report section; a new prediction goes through the
run step's :func:`~fakescope.train.run.score`. They are registered in
:data:`fakescope.experiments.demo.ANALYSES`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from fakescope.report import Report, Section
from fakescope.report.plots import grouped_bars
from fakescope.train.run import Run, score

FAIRNESS_GROUPINGS = ["skin_tone", "gender", "age_group", "skin_tone*gender"]
HEADLINE_GAPS = ["F_FPR", "F_OAE", "F_DP", "F_MEO", "AUC_gap"]
#: Head-only MC dropout: passes, and images per batch (a seed's dropout masks depend on the batch
#: partition, so it is fixed).
MC_SAMPLES, MC_BATCH = 32, 64


def fairness_analysis(report: Report, runs: dict[str, Run], scores: dict[str, pd.DataFrame],
                      test: pd.DataFrame, out: Path, cfg) -> None:
    """Group audit of every detector on its whole test split (both domains)."""
    from fakescope.metrics.fairness import fairness_report

    gap_rows, group_rows, notes = [], [], []
    for name, s in scores.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rep = fairness_report(s, groups=FAIRNESS_GROUPINGS, intersect=False,
                                  n_boot=cfg.n_boot, seed=cfg.seed)
        notes += sorted({str(w.message) for w in caught})
        gaps = rep.gaps_frame()
        gap_rows.append(gaps[gaps["metric"].isin(HEADLINE_GAPS)].assign(detector=name))
        for grouping, g in rep.groupings.items():
            group_rows.append(g.groups_frame().assign(detector=name, grouping=grouping))
    gaps = pd.concat(gap_rows, ignore_index=True)[["detector", "grouping", "metric", "value",
                                                   "ci_low", "ci_high"]]
    groups = pd.concat(group_rows, ignore_index=True)
    skin = groups[groups["grouping"] == "skin_tone"]
    figs = [
        grouped_bars(skin, out / "figures" / "fairness_fpr_skin_tone.png", index="group",
                     columns="detector", values="fpr", title="False positive rate by skin tone",
                     hline=None),
        grouped_bars(gaps[gaps["metric"] == "F_FPR"], out / "figures" / "fairness_ffpr.png",
                     index="grouping", columns="detector", values="value",
                     title="F_FPR (max - min group FPR, x100)", ylim=None, hline=None),
    ]
    text = ("Per-group rates at threshold 0.5 on each detector's test scores (both domains), "
            "with the PG-FDD gap metrics x100 and bootstrap intervals. F_FPR is the spread of "
            "false positive rates between groups: the share of real faces wrongly flagged as "
            "fake differs by that many points between the best- and worst-treated group.")
    if notes:
        text += "\n\nWarnings: " + " ".join(notes)
    report.add(Section("fairness", "Fairness by demographic group", text=text,
                       tables={"gaps": gaps, "groups": groups}, figures=[str(f) for f in figs],
                       numbers={"gaps": gaps.to_dict("records")}, order=40))


def uncertainty_analysis(report: Report, runs: dict[str, Run], scores: dict[str, pd.DataFrame],
                         test: pd.DataFrame, out: Path, cfg) -> None:
    """Head-only MC dropout (T=32) on every detector's test split: uncertainty by generator,
    seen vs held-out, and calibration of P(fake) with reliability diagrams."""
    import numpy as np

    from fakescope.metrics.calibration import (
        calibration_summary,
        plot_reliability,
        reliability_table,
    )
    from fakescope.report.plots import heatmap

    unc_rows, cal_rows, figs, by_gen = [], [], [], {}
    for name, s in scores.items():
        mc = score(runs[name], test, method="mc_head", samples=MC_SAMPLES, seed=cfg.seed,
                   batch_size=MC_BATCH)
        frame = mc[["label", "source", "domain"]].copy()
        for k in ("total", "aleatoric", "epistemic", "variance"):
            frame[k] = mc[f"unc_{k}"]
        frame["seen"] = np.where(frame["source"].isin(cfg.held_out), "held-out generator",
                                 np.where(frame["label"] == 0, "real", "seen generator"))
        grouped = frame.groupby(["domain", "seen"])[["total", "aleatoric", "epistemic",
                                                     "variance"]].mean().reset_index()
        unc_rows.append(grouped.assign(detector=name))
        by_gen[name] = frame.groupby("source")["epistemic"].mean()
        for r in calibration_summary(s["p_fake"].to_numpy(), s["label"].to_numpy()):
            if r.kind == "p_fake":
                cal_rows.append({"detector": name, **r.as_dict()})
        table = reliability_table(s["p_fake"].to_numpy(), s["label"].to_numpy(), n_bins=10)
        figs.append(plot_reliability(table, out / "figures" / f"reliability_{name}.png",
                                     title=f"{name}: reliability of P(fake)"))
    epi = pd.DataFrame(by_gen).T
    figs.insert(0, heatmap(epi, out / "figures" / "epistemic_by_generator.png",
                           title="Mean epistemic uncertainty (nats) by detector and source",
                           fmt=".3f", cmap="magma"))
    unc = pd.concat(unc_rows, ignore_index=True)
    cal = pd.DataFrame(cal_rows)
    report.add(Section(
        "uncertainty", "Uncertainty and calibration",
        text=("Head-only MC dropout with T = 32 passes over each detector's test split. "
              "Total = entropy of the mean prediction; aleatoric = mean entropy of the passes; "
              "epistemic = their difference (mutual information), in nats. A detector that is "
              "uncertain on held-out generators is telling you it has not seen them. "
              "Calibration of P(fake): ECE with equal-width and equal-mass bins, Brier and NLL "
              "(see docs/uncertainty.md)."),
        tables={"uncertainty_by_setting": unc, "epistemic_by_source": epi.reset_index(
            names="detector"), "calibration": cal},
        figures=[str(f) for f in figs],
        numbers={"uncertainty": unc.to_dict("records"), "calibration": cal_rows}, order=30))
