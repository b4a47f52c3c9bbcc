"""``fakescope ood-fit``: out-of-distribution statistics for a checkpoint trained before they
were fitted at the end of training (or to refit them)."""

from __future__ import annotations

from pathlib import Path

import typer

from fakescope.cli.output import console


def ood_fit(
    checkpoint: Path = typer.Argument(..., help="Checkpoint folder (model.safetensors + meta.json)."),
    manifest: Path = typer.Option(..., "--manifest", help="The manifest it was trained on."),
    train_split: str = typer.Option("train", help="Split whose features give the class means "
                                    "and covariance."),
    val_split: str = typer.Option("val", help="Held-out split whose distances set the threshold."),
    quantile: float = typer.Option(0.95, help="Threshold = this quantile of the validation "
                                   "distances (about 1 - quantile of in-distribution inputs "
                                   "are flagged)."),
    batch_size: int = typer.Option(64, help="Images per forward pass."),
    limit: int = typer.Option(20000, help="At most this many images per split (a seeded subset)."),
    cache: Path | None = typer.Option(None, "--cache", help="Map detectors: folder for the "
                                      "clips' signals and maps (default: beside the checkpoint)."),
):
    """Fit the out-of-distribution flag of a checkpoint from its training manifest.

    Class-conditional Gaussians (shared Ledoit-Wolf covariance) of the detector's penultimate
    features on the train split; threshold at the 95th percentile of Mahalanobis distances on
    the validation split. Written into the checkpoint (ood.safetensors + meta.json "ood"); a
    checkpoint without a preprocessing record or training-data summary also gets the manifest's.

    Example: fakescope ood-fit runs/demo/train/efficientnet_lite0/best --manifest runs/demo/data/manifest.csv
    """
    from fakescope.train.ood_fit import fit_checkpoint_ood

    entry = fit_checkpoint_ood(checkpoint, manifest, train_split=train_split, val_split=val_split,
                               quantile=quantile, batch_size=batch_size, limit=limit or None,
                               cache=cache, say=console.print)
    console.print(f"{checkpoint}: OOD threshold {entry['threshold']:.4g} (Mahalanobis distance, "
                  f"{entry['quantile']:.0%} of {entry['n_val']} {val_split} images), fitted on "
                  f"{sum(entry['n_fit'].values())} {train_split} images")
    if entry["recorded"]:
        console.print(f"also recorded from {manifest}: {', '.join(entry['recorded'])}")


def register(app, data_app, study_app) -> None:
    app.command("ood-fit")(ood_fit)
