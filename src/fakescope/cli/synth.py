"""CLI commands of the 'synth' topic: ``fakescope data synth``."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from fakescope.errors import ConfigError


def _parse_props(text: str | None) -> dict | None:
    """'skin_tone=light:0.6,medium:0.2,dark:0.2;gender=male:0.7,female:0.3' -> nested dict."""
    if not text:
        return None
    out: dict = {}
    try:
        for part in filter(None, (p.strip() for p in text.split(";"))):
            attr, groups = part.split("=", 1)
            out[attr.strip()] = {g.split(":")[0].strip(): float(g.split(":")[1])
                                 for g in groups.split(",")}
    except (ValueError, IndexError) as exc:
        raise ConfigError(f"cannot parse --proportions {text!r}",
                          hint="e.g. 'skin_tone=light:0.8,medium:0.1,dark:0.1;gender=male:0.5,female:0.5'"
                          ) from exc
    return out


def register(app, data_app, study_app) -> None:
    """Add ``fakescope data synth``."""

    @data_app.command("synth")
    def synth(
        out: Path = typer.Option(..., "--out", help="Output folder (resumed if it exists)."),
        identities: int = typer.Option(250, help="Number of synthetic identities."),
        images_per_identity: int = typer.Option(10, help="Real images per identity (each gets one fake)."),
        generators: str = typer.Option("all", help="Comma-separated generator names or 'all'."),
        domain: str = typer.Option("both", help="studio, phone or both."),
        size: int = typer.Option(128, help="Image size in pixels."),
        seed: int = typer.Option(0, help="Random seed (same seed -> same bytes)."),
        workers: int = typer.Option(0, help="Worker processes (0 = number of CPU cores)."),
        proportions: str = typer.Option(None, help="Group proportions, e.g. "
                                        "'skin_tone=light:0.8,medium:0.1,dark:0.1'."),
    ):
        """Build the SynthFaces benchmark: procedural real faces + one fake each, with masks,
        landmarks and a manifest.

        Example: fakescope data synth --out data/synth --identities 40 --images-per-identity 5
        """
        from rich.progress import Progress

        from fakescope.data.generators import list_generators
        from fakescope.data.synthfaces.build import build_benchmark
        from fakescope.data.synthfaces.traits import DOMAINS

        gens = list_generators() if generators.strip() in ("", "all") else [
            g.strip() for g in generators.split(",") if g.strip()]
        doms = list(DOMAINS) if domain == "both" else [domain]
        n_workers = workers if workers > 0 else (os.cpu_count() or 1)
        with Progress(transient=True) as bar:
            task = bar.add_task("rendering", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            df = build_benchmark(out, identities=identities,
                                 images_per_identity=images_per_identity, generators=gens,
                                 domains=doms, size=size, seed=seed, workers=n_workers,
                                 proportions=_parse_props(proportions), progress=progress)
        n_fake = int(df["label"].sum())
        typer.echo(f"{len(df)} images ({len(df) - n_fake} real, {n_fake} fake) -> "
                   f"{Path(out) / 'manifest.csv'}")
