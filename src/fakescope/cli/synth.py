"""CLI commands of the 'synth' topic: ``fakescope data synth`` and ``data synth-bands``
(the difficulty studies of the benchmark are in :mod:`fakescope.cli.difficulty`)."""

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


def split_names(text: str) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c']."""
    return [g.strip() for g in text.split(",") if g.strip()]


def generator_names(text: str) -> list[str]:
    """A --generators value: 'all' (or empty) = every registered generator, else the list."""
    from fakescope.data.generators import list_generators

    return list_generators() if text.strip() in ("", "all") else split_names(text)


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

    from fakescope.data.synthfaces.build import build_benchmark
    from fakescope.data.synthfaces.traits import DOMAINS

    gens = generator_names(generators)
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

def synth_bands(
    generators: str = typer.Option("all", help="Comma-separated generator names or 'all'."),
    faces: int = typer.Option(40, help="SynthFaces reals to make fakes from."),
    seed: int = typer.Option(5, help="Random seed of the faces and the fakes."),
    size: int = typer.Option(128, help="Face size in pixels."),
    out: Path | None = typer.Option(None, "--out", help="Also write the table as CSV here."),
):
    """Band profile of each generator's trace: mean change of log std of the fine, mid and
    coarse grey bands inside the face, fake minus real, after JPEG (0 = band untouched,
    -0.7 = half its amplitude gone), and the orientation contrast (orient: how much more
    fine detail was lost along `angle` than across it; 0 = isotropic). Generators with the
    same profile catch each other.

    Example: fakescope data synth-bands --generators sbi,eigenswap,gan_upsample
    """
    from fakescope.data.generators.bands import band_profile

    if faces < 2:
        raise ConfigError(f"--faces must be at least 2, got {faces}",
                          hint="each fake takes the next face as its donor")
    table = band_profile(generator_names(generators), faces=faces, seed=seed, size=size)
    typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:+.2f}"))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
        typer.echo(f"-> {out}")


def register(app, data_app, study_app) -> None:
    """Add ``fakescope data synth`` and ``data synth-bands``."""
    data_app.command("synth")(synth)
    data_app.command("synth-bands")(synth_bands)
