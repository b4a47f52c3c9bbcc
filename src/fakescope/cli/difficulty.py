"""CLI commands of the SynthFaces difficulty studies: ``fakescope study difficulty`` and
``study difficulty-seeds``."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from fakescope.cli.synth import generator_names, split_names
from fakescope.errors import ConfigError


def _splits(text: str) -> tuple[float, float, float]:
    """'0.7,0.15,0.15' -> (0.7, 0.15, 0.15): train/val/test shares of identities."""
    try:
        fractions = tuple(float(x) for x in text.split(","))
    except ValueError as exc:
        raise ConfigError(f"cannot parse --splits {text!r}", hint="e.g. 0.5,0.1,0.4") from exc
    if len(fractions) != 3:
        raise ConfigError(f"--splits needs three shares, got {text!r}", hint="e.g. 0.5,0.1,0.4")
    return fractions


def difficulty(
    out: Path = typer.Option(..., "--out", help="Output folder (finished trainings reused)."),
    identities: int = typer.Option(250, help="Number of synthetic identities."),
    images_per_identity: int = typer.Option(10, help="Real images per identity."),
    size: int = typer.Option(128, help="Render size of the benchmark in pixels."),
    image_size: int = typer.Option(128, help="Detector input size in pixels."),
    detector: str = typer.Option("resnet18", help="Reference detector."),
    epochs: int = typer.Option(8, help="Training epochs per detector."),
    logo: bool = typer.Option(True, "--logo/--no-logo",
                              help="Also run leave-one-generator-out trainings."),
    generators: str = typer.Option("all", help="Comma-separated generators or 'all'."),
    logo_only: str = typer.Option("", help="Comma-separated generators to hold out "
                                  "(default: every generator)."),
    splits: str = typer.Option("0.7,0.15,0.15", help="train,val,test shares of identities."),
    seed: int = typer.Option(0, help="Random seed."),
    workers: int = typer.Option(0, help="Benchmark worker processes (0 = CPU cores)."),
    set_: list[str] = typer.Option([], "--set", help="Training-config override, e.g. "
                                   "--set data.sampler=shuffle."),
    retrain: bool = typer.Option(False, "--retrain", help="Replace trainings in OUT made with "
                                 "other settings or rows, or by an older fakescope (default: "
                                 "refuse). The benchmark must still match."),
):
    """Calibrate SynthFaces difficulty: per-generator in-domain AUC of a reference detector
    and leave-one-generator-out AUC, with bootstrap intervals; writes difficulty.csv and a
    report section.

    A re-run reuses the finished trainings in OUT that have the same settings and rows; other
    settings (e.g. --epochs or --set) need a new --out, or --retrain.

    Example (the reference run in docs/synthfaces.md, about 70 minutes on 2 CPU cores with
    native bf16; add --no-logo for the in-domain column alone, about 10 minutes):
    fakescope study difficulty --out runs/difficulty
    """
    from fakescope.experiments.difficulty import format_table, run_difficulty

    held: bool | list[str] = (split_names(logo_only) or True) if logo else False
    table = run_difficulty(out, identities=identities, images_per_identity=images_per_identity,
                           size=size, image_size=image_size, detector=detector, epochs=epochs,
                           logo=held, generators=generator_names(generators), seed=seed,
                           workers=workers if workers > 0 else (os.cpu_count() or 1),
                           splits=_splits(splits), overrides=set_, retrain=retrain,
                           say=typer.echo)
    typer.echo(format_table(table))


def difficulty_seeds(
    runs: list[Path] = typer.Argument(..., help="Finished difficulty run folders that "
                                      "differ only in --seed."),
    out: Path | None = typer.Option(None, "--out", help="Also write the summary CSV here."),
):
    """Summarise seed replicates of `study difficulty`: per generator the in-domain AUC range,
    the runs in the target band, and the mean LOGO drop with a t interval over runs.

    Example: fakescope study difficulty-seeds runs/difficulty runs/difficulty-seed1
    """
    from fakescope.experiments.difficulty.seeds import combine_runs, format_summary

    summary = combine_runs(runs)
    typer.echo(format_summary(summary))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        summary.to_csv(out, index=False)
        typer.echo(f"-> {out}")


def register(app, data_app, study_app) -> None:
    """Add ``fakescope study difficulty`` and ``study difficulty-seeds``."""
    study_app.command("difficulty")(difficulty)
    study_app.command("difficulty-seeds")(difficulty_seeds)
