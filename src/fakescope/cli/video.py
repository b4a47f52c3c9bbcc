"""CLI of the video study: ``fakescope study video``."""

from __future__ import annotations

from pathlib import Path

import typer


def study_video(
    out: Path = typer.Option(Path("runs/video"), "--out", help="Run folder (resumed)."),
    identities: int = typer.Option(72, help="SynthFaces identities (same people as the stills)."),
    clips_per_identity: int = typer.Option(2, help="Real clips per identity (one fake each)."),
    seconds: float = typer.Option(6.0, help="Clip length in seconds (at least 4)."),
    size: int = typer.Option(128, help="Frame size in pixels (even)."),
    seed: int = typer.Option(0, help="Seed of the benchmark and the controls."),
    workers: int = typer.Option(0, help="Processes (0 = all cores)."),
):
    """Build SynthFaces video, extract every clip's pulse and motion signals, measure heart-rate
    recovery per domain and skin tone, and run the difficulty controls (heart rate alone, frame
    differences alone, per generator); writes OUT/report.html.

    Example: fakescope study video --out runs/video --identities 36
    """
    import os

    from fakescope.experiments.video import VideoStudyConfig, run_video_study

    cfg = VideoStudyConfig(identities=identities, clips_per_identity=clips_per_identity,
                           seconds=seconds, size=size, seed=seed,
                           workers=workers or os.cpu_count() or 1)
    report = run_video_study(out, cfg, say=typer.echo)
    typer.echo(f"report: {report.render()}")


def register(app, data_app, study_app) -> None:
    study_app.command("video")(study_video)
