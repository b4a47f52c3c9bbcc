"""The ``serve`` command: the HTTP service and its upload page."""

from __future__ import annotations

from pathlib import Path

import typer

from fakescope.cli.output import console


def serve(
    model: list[Path] = typer.Option(..., "--model", help="Checkpoint folder; repeat it to "
                                     "serve several detectors side by side."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (loopback by default; "
                             "0.0.0.0 exposes the service to the network)."),
    port: int = typer.Option(8000, help="TCP port."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Where jobs and their "
                                         "results live (default ~/.local/share/fakescope/serve)."),
    max_batch_size: int = typer.Option(16, help="Images per micro-batch."),
    batch_timeout_ms: float = typer.Option(10.0, help="How long the first image of a batch "
                                           "waits for others (ms)."),
    uncertainty: str = typer.Option("auto", help="auto (mc_head when the detector has head "
                                    "dropout), mc_head or none."),
    samples: int = typer.Option(16, help="Stochastic passes for the uncertainty."),
    device: str = typer.Option("auto", help="cpu, cuda, cuda:N or auto."),
    faces: str = typer.Option("auto", help="auto: find and align every face as each "
                              "checkpoint's training data was; hog or cnn: that dlib detector; "
                              "none: score images and frames whole."),
    retention_hours: float = typer.Option(24.0, help="Hours a finished job's result is kept."),
    api_key: str | None = typer.Option(None, "--api-key", help="Require this key (X-API-Key or "
                                       "Bearer); or set FAKESCOPE_API_KEY."),
    cors_origin: list[str] = typer.Option([], "--cors-origin", help="Allow this browser origin "
                                          "(repeatable; CORS is off without it)."),
    webhook_secret: str | None = typer.Option(None, "--webhook-secret", help="Enable job "
                                              "webhooks, signed with this secret (or set "
                                              "FAKESCOPE_WEBHOOK_SECRET)."),
    image_mb: float = typer.Option(20.0, help="Largest image upload (MB)."),
    video_mb: float = typer.Option(200.0, help="Largest video upload (MB)."),
    max_megapixels: float = typer.Option(40.0, help="Largest image, from its header."),
    video_seconds: float = typer.Option(600.0, help="Longest video (s)."),
    video_frames: int = typer.Option(32, help="Evenly spaced frames scored per video."),
    queued_jobs: int = typer.Option(16, help="Jobs queued or running before 503."),
    queued_images: int = typer.Option(256, help="Images waiting for a batch before 503."),
    request_seconds: float = typer.Option(60.0, help="Time limit of POST /detect (504)."),
    job_seconds: float = typer.Option(900.0, help="Time limit of one job (504)."),
):
    """Serve the detectors over HTTP with an upload page at http://HOST:PORT/.

    POST /detect scores images with every detector side by side; POST /jobs queues videos;
    /models shows each detector's card; /metrics is Prometheus text; /docs the API. Nothing is
    sent anywhere (webhooks only when you enable them).

    Example: fakescope serve --model runs/demo/models/efficientnet_lite0/best --model runs/demo/models/resnet18/best
    """
    from fakescope.errors import ConfigError
    from fakescope.models.checkpoint import read_meta

    try:
        import uvicorn

        from fakescope.serve.app import create_app
        from fakescope.serve.limits import MB, Limits
        from fakescope.serve.settings import ServeSettings, default_data_dir
    except ImportError as exc:
        raise ConfigError(f"the service needs the serve extra ({exc.name} is missing)",
                          hint="pip install 'fakescope[serve]'") from exc
    for m in model:  # fail fast, before binding the port, on a wrong path
        read_meta(m)
    limits = Limits(image_bytes=int(image_mb * MB), video_bytes=int(video_mb * MB),
                    max_megapixels=max_megapixels, video_seconds=video_seconds,
                    video_frames=video_frames, queued_jobs=queued_jobs,
                    queued_images=queued_images, request_seconds=request_seconds,
                    job_seconds=job_seconds)
    settings = ServeSettings(models=[str(m) for m in model],
                             data_dir=data_dir or default_data_dir(), device=device,
                             uncertainty=uncertainty, samples=samples,
                             max_batch_size=max_batch_size, batch_timeout_ms=batch_timeout_ms,
                             faces=faces, retention_hours=retention_hours,
                             api_key=api_key, cors_origins=list(cors_origin),
                             webhook_secret=webhook_secret, limits=limits)
    app = create_app(settings)
    console.print(f"fakescope serving {len(model)} detector(s) at http://{host}:{port}/ "
                  f"(data: {settings.data_dir})")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app, data_app, study_app) -> None:
    app.command()(serve)
