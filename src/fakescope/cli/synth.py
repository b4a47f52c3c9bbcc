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
    video: bool = typer.Option(False, "--video", help="Build clips (mp4, H.264) with a pulse "
                               "and motion instead of still images."),
    clips_per_identity: int = typer.Option(2, help="--video: real clips per identity (each "
                                           "gets one fake)."),
    seconds: float = typer.Option(8.0, help="--video: clip length in seconds."),
    fps: float = typer.Option(30.0, help="--video: frames per second."),
    pulse_amplitude: str = typer.Option("0.002,0.006", help="--video: range of the pulse "
                                        "amplitude (fraction of the pixel value), 'lo,hi'."),
    temporal: str = typer.Option("consistent,flicker", help="--video: temporal modes of the "
                                 "fakes (consistent, flicker or both)."),
):
    """Build the SynthFaces benchmark: procedural real faces + one fake each, with masks,
    landmarks and a manifest. With --video: clips of the same people with head motion,
    blinks, speech and a blood-volume pulse, ground truth per frame (docs/synthfaces-video.md).

    Example: fakescope data synth --out data/synth --identities 40 --images-per-identity 5

    Example: fakescope data synth --video --out data/synth-video --identities 36 --seconds 8
    """
    if video:
        _synth_video(out, identities=identities, clips_per_identity=clips_per_identity,
                     seconds=seconds, fps=fps, generators=generators, domain=domain, size=size,
                     seed=seed, workers=workers, proportions=proportions,
                     pulse_amplitude=pulse_amplitude, temporal=temporal)
        return
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

def _float_range(text: str, option: str) -> tuple[float, float]:
    try:
        vals = [float(v) for v in split_names(text)]
    except ValueError as exc:
        raise ConfigError(f"cannot parse {option} {text!r}", hint="give 'lo,hi' or one number"
                          ) from exc
    if len(vals) not in (1, 2):
        raise ConfigError(f"cannot parse {option} {text!r}", hint="give 'lo,hi' or one number")
    return (vals[0], vals[-1])


def _synth_video(out: Path, *, identities, clips_per_identity, seconds, fps, generators, domain,
                 size, seed, workers, proportions, pulse_amplitude, temporal) -> None:
    from rich.progress import Progress

    from fakescope.data.synthfaces.traits import DOMAINS
    from fakescope.data.synthfaces.video_build import build_video_benchmark

    doms = list(DOMAINS) if domain == "both" else [domain]
    n_workers = workers if workers > 0 else (os.cpu_count() or 1)
    with Progress(transient=True) as bar:
        task = bar.add_task("rendering clips", total=None)
        df = build_video_benchmark(
            out, workers=n_workers, identities=identities,
            clips_per_identity=clips_per_identity, seconds=seconds, fps=fps,
            generators=tuple(generator_names(generators)), domains=tuple(doms), size=size,
            seed=seed, proportions=_parse_props(proportions),
            pulse_amplitude=_float_range(pulse_amplitude, "--pulse-amplitude"),
            temporal_modes=tuple(split_names(temporal)),
            progress=lambda done, total: bar.update(task, completed=done, total=total))
    n_fake = int(df["label"].sum())
    typer.echo(f"{len(df)} clips ({len(df) - n_fake} real, {n_fake} fake) -> "
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
