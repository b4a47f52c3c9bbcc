"""CLI commands of the 'fairness' topic: the audit of a scores file and the fairness study."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import typer


def _fmt(v: float, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{100 * v:.1f}" if pct else f"{v:.3f}"


def print_report(report, console=None) -> None:
    """Print one rich table of groups and one of gaps per grouping."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    for name, g in report.groupings.items():
        t = Table(title=f"{name} (threshold {report.threshold:g}; rates in %; * = fewer than "
                  f"{report.min_group_size} rows, not in the gaps)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
        rows = [(f"{gname}{' *' if s.small else ''}", s) for gname, s in g.groups.items()]
        rows.append(("all", g.overall))
        t.add_column("group", overflow="fold", min_width=min(22, max(len(r[0]) for r in rows)))
        for col in ("n", "real", "fake", "AUC", "TPR", "FPR", "TNR", "FNR", "ACC", "PR"):
            t.add_column(col, justify="right", no_wrap=True)
        for label, s in rows:
            t.add_row(label, str(s.n), str(s.n_real), str(s.n_fake), _fmt(s.auc),
                      *(_fmt(getattr(s, k), pct=True) for k in ("tpr", "fpr", "tnr", "fnr",
                                                                  "acc", "pr")))
        console.print(t)
        level = f"{100 * report.ci:g}% CI" if report.n_boot else "CI"
        how = (f"; bootstrap resampled {g.unit}, centred intervals"
               if report.n_boot else "")
        gt = Table(title=f"{name}: gaps (x100){how}", title_justify="left",
                   box=box.SIMPLE_HEAD)
        for col in ("metric", "value", level):
            gt.add_column(col, justify="left" if col == "metric" else "right")
        for k, v in g.gaps.items():
            lo, hi = g.gaps_ci.get(k, (math.nan, math.nan))
            ci = "–" if not math.isfinite(lo) else f"[{lo:.1f}, {hi:.1f}]"
            gt.add_row(k, "–" if not math.isfinite(v) else f"{v:.2f}", ci)
        console.print(gt)
        for w in g.warnings:
            console.print(f"[yellow]warning:[/yellow] {w}")


def fairness(
    scores: Path = typer.Option(..., "--scores", help="Scores table (CSV or Parquet)."),
    groups: str = typer.Option(..., "--groups",
                               help="Comma-separated group columns, e.g. gender,race "
                               "(gender*race for an explicit intersection)."),
    intersect: bool = typer.Option(False, "--intersect",
                                   help="Also audit the intersection of all group columns."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the report as JSON."),
    attributes: Path | None = typer.Option(None, "--attributes",
                                           help="CSV of attributes to join (PG-FDD layout "
                                           "ismale/isasian/.../intersec_label understood)."),
    join_on: str = typer.Option("sample_id", "--join-on", help="sample_id or video_id."),
    threshold: float = typer.Option(0.5, "--threshold", help="y_hat = 1[p_fake >= t]."),
    min_group_size: int = typer.Option(30, "--min-group-size",
                                       help="Smaller groups are flagged, not in the gaps."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples (0 = none)."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    unit: str = typer.Option("auto", "--unit",
                             help="What the bootstrap resamples: auto (identity, else "
                             "video_id, else row), identity, video_id, row or a column."),
    single_label: str = typer.Option("rate", "--single-label",
                                     help="A group with only reals or only fakes: rate (ours: "
                                     "left out only of the gaps of its undefined rates) or "
                                     "drop (PG-FDD's: left out of every gap)."),
) -> None:
    """Fairness audit of a scores file: per-group rates and gap metrics with bootstrap CIs.

    Example: fakescope fairness --scores scores.csv --groups gender,race --intersect
    --json fairness.json
    """
    from fakescope.data.demographics import join_attributes
    from fakescope.metrics.fairness import fairness_report
    from fakescope.scores import read_scores

    df = read_scores(scores)
    if attributes is not None:
        df = join_attributes(df, attributes, on=join_on)
    cols = [c.strip() for c in groups.split(",") if c.strip()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-group notes are printed from the report
        rep = fairness_report(df, groups=cols, intersect=intersect, threshold=threshold,
                              min_group_size=min_group_size, n_boot=bootstrap, seed=seed,
                              unit=unit, single_label=single_label)
    print_report(rep)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(rep.to_dict(), indent=2))
        typer.echo(f"wrote {json_out}")


def study_fairness(
    out: Path = typer.Option(..., "--out", help="Run folder (report, tables, figures)."),
    identities: int = typer.Option(48, "--identities",
                                   help="SynthFaces identities of the biased train/val pool."),
    test_identities: int | None = typer.Option(None, "--test-identities",
                                               help="Identities per test domain "
                                               "(default identities / 2)."),
    images_per_identity: int = typer.Option(4, "--images-per-identity",
                                            help="Real images per identity (one fake each)."),
    epochs: int = typer.Option(3, "--epochs", help="Training epochs per method."),
    detector: str = typer.Option("resnet18", "--detector", help="Detector name."),
    size: int = typer.Option(64, "--size", help="Image size in pixels."),
    seed: int = typer.Option(0, "--seed", help="Seed of data, training and bootstrap."),
    methods: str = typer.Option("all", "--methods",
                                help="Comma-separated methods (erm,synthetic,sam,multitask,"
                                "reweight,dro,combined) or all."),
    bootstrap: int = typer.Option(500, "--bootstrap", help="Bootstrap resamples for CIs."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    retrain: bool = typer.Option(False, "--retrain",
                                 help="Rebuild data and retrain runs that OUT holds with other "
                                 "settings (default: refuse them)."),
) -> None:
    """Fairness study on SynthFaces: ERM vs each mitigation, intra- and cross-domain.

    A re-run into the same --out reuses what matches and refuses data or runs made with other
    settings, unless --retrain.

    Example: fakescope study fairness --out runs/fair --identities 48 --epochs 3
    """
    from fakescope.experiments.fairness import StudyConfig, run_fairness_study

    cfg = StudyConfig(identities=identities, test_identities=test_identities,
                      images_per_identity=images_per_identity, epochs=epochs, detector=detector,
                      size=size, seed=seed, n_boot=bootstrap, device=device,
                      methods=None if methods == "all" else
                      [m.strip() for m in methods.split(",") if m.strip()])
    res = run_fairness_study(out, cfg, retrain=retrain, log=typer.echo)
    typer.echo(res.summary_text())
    typer.echo(f"report: {res.report_path}")


def register(app, data_app, study_app) -> None:
    """Add this topic's commands to the root app and the `data` / `study` groups."""
    app.command("fairness")(fairness)
    study_app.command("fairness")(study_fairness)
