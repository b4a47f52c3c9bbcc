"""Analyses the demo adds to its report, each reading the detectors' test scores tables.

Each analysis is ``fn(report, scores: {detector: DataFrame}, test_manifest, out_dir, cfg)`` and
adds one report section. They are registered in :data:`fakescope.experiments.demo.ANALYSES`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from fakescope.report import Report, Section
from fakescope.report.plots import grouped_bars

FAIRNESS_GROUPINGS = ["skin_tone", "gender", "age_group", "skin_tone*gender"]
HEADLINE_GAPS = ["F_FPR", "F_OAE", "F_DP", "F_MEO", "AUC_gap"]


def fairness_analysis(report: Report, scores: dict[str, pd.DataFrame], test: pd.DataFrame,
                      out: Path, cfg) -> None:
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
