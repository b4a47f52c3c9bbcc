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
    detectors: str = typer.Option(
        "ppg_map,motion_map,resnet18,xception,efficientnet_b0,mobilenetv3",
        help="Detectors scored out of fold, comma list: map "
        "detectors (ppg_map, motion_map) are biological, any other name (resnet18, xception, "
        "efficientnet_b0, mobilenetv3, tiny) is a blind detector on sampled face frames; "
        "'none' skips the step."),
    detector_folds: int = typer.Option(3, help="Identity folds of the detectors step."),
    map_epochs: int = typer.Option(8, help="Epochs of the map detectors per fold."),
    blind_epochs: int = typer.Option(4, help="Epochs of the blind detectors per fold."),
    frames_per_clip: int = typer.Option(8, help="Evenly spaced face frames per clip for the "
                                        "blind detectors."),
):
    """Build SynthFaces video, extract every clip's pulse and motion signals, measure heart-rate
    recovery per domain and skin tone, run the difficulty controls (heart rate alone, frame
    differences alone, per generator), and score every clip out of fold by identity with the
    biological and blind detectors (per-generator AUC, epistemic uncertainty, calibration per
    family, example maps); writes OUT/report.html.

    Example: fakescope study video --out runs/video --identities 36
    """
    import os

    from fakescope.experiments.video import VideoStudyConfig, run_video_study

    cfg = VideoStudyConfig(identities=identities, clips_per_identity=clips_per_identity,
                           seconds=seconds, size=size, seed=seed,
                           workers=workers or os.cpu_count() or 1,
                           detectors=tuple(d for d in detectors.split(",") if d and d != "none"),
                           detector_folds=detector_folds, map_epochs=map_epochs,
                           blind_epochs=blind_epochs, frames_per_clip=frames_per_clip)
    report = run_video_study(out, cfg, say=typer.echo)
    typer.echo(f"report: {report.render()}")


def register(app, data_app, study_app) -> None:
    study_app.command("video")(study_video)
