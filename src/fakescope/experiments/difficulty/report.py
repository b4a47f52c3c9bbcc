"""The difficulty table as Markdown and as a report section (bar plot of in-domain vs LOGO AUC).

The table is :func:`fakescope.experiments.difficulty.run_difficulty`'s: one row per generator,
``auc_in``/``auc_logo`` with ``_lo``/``_hi`` interval columns, ``drop`` with ``drop_lo``/``drop_hi``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fakescope.experiments.difficulty.stats import TARGET
from fakescope.report import Report, Section
from fakescope.report.plots import grouped_bars


def format_table(table: pd.DataFrame) -> str:
    """The table as Markdown: ``AUC [lo, hi]`` cells, two decimals."""
    def cell(r, k):
        if pd.isna(r[k]):
            return "—"
        return f"{r[k]:.3f} [{r[k + '_lo']:.2f}, {r[k + '_hi']:.2f}]"

    lines = ["| generator | n fake | in-domain AUC [95% CI] | LOGO AUC [95% CI] | "
             "drop [paired 95% CI] |", "|---|---:|---|---|---|"]
    for _, r in table.iterrows():
        drop = ("—" if pd.isna(r["drop"]) else
                f"{r['drop']:+.3f} [{r['drop_lo']:+.2f}, {r['drop_hi']:+.2f}]")
        lines.append(f"| {r['generator']} | {r['n_fake']} | {cell(r, 'auc_in')} | "
                     f"{cell(r, 'auc_logo')} | {drop} |")
    return "\n".join(lines)


def write_section(out: Path, table: pd.DataFrame, settings: dict) -> None:
    """Add the ``difficulty`` section (bar plot + table + ``settings``) to ``OUT/report.html``."""
    long = table.melt(id_vars="generator", value_vars=["auc_in", "auc_logo"],
                      var_name="setting", value_name="auc").dropna()
    long["setting"] = long["setting"].map({"auc_in": "in-domain", "auc_logo": "leave-one-out"})
    fig = grouped_bars(long, out / "figures" / "difficulty.png", index="generator",
                       columns="setting", values="auc", ylim=(0.4, 1.0),
                       title="SynthFaces difficulty: AUC per generator")
    n_in = int(table["in_target"].sum())
    Report(out, title="fakescope — SynthFaces difficulty").add(Section(
        "difficulty", "SynthFaces difficulty calibration",
        text=(f"{settings['detector']} at {settings['image_size']} px, {settings['epochs']} epochs, "
              f"trained on every generator of domains {', '.join(settings['domains'])}; each "
              "generator's test fakes against all test reals (in-domain), and again after "
              "training without that generator's fakes (leave-one-generator-out, reals kept). "
              f"{n_in}/{len(table)} generators lie in the target band {TARGET[0]}-{TARGET[1]}. "
              "AUC with stratified bootstrap 95% intervals."),
        tables={"auc": table}, figures=[str(fig)],
        numbers={"settings": settings, "table": table.to_dict(orient="records")}, order=15))
