"""Settings of one server: every ``fakescope serve`` option, validated in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from fakescope.errors import ConfigError
from fakescope.serve.limits import Limits
from fakescope.serve.verdict import BandRule

API_KEY_ENV = "FAKESCOPE_API_KEY"
WEBHOOK_SECRET_ENV = "FAKESCOPE_WEBHOOK_SECRET"


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/fakescope/serve`` (``~/.local/share/fakescope/serve``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "fakescope" / "serve"


@dataclass
class ServeSettings:
    models: list[str]
    data_dir: Path = field(default_factory=default_data_dir)
    device: str = "auto"
    uncertainty: str = "auto"
    samples: int = 16
    threshold: float = 0.5
    max_batch_size: int = 16
    batch_timeout_ms: float = 10.0
    faces: str = "auto"
    retention_hours: float = 24.0
    api_key: str | None = None
    cors_origins: list[str] = field(default_factory=list)
    webhook_secret: str | None = None
    limits: Limits = field(default_factory=Limits)
    bands: BandRule = field(default_factory=BandRule)

    def detect_options(self):
        """The detect sessions' options: faces, threshold, intake limits, frames, batch."""
        from fakescope.detect import DetectOptions

        lim = self.limits
        return DetectOptions(faces=self.faces, threshold=self.threshold,
                             max_megapixels=lim.max_megapixels, min_size=lim.min_side,
                             frames=lim.video_frames, batch_size=self.max_batch_size,
                             samples=self.samples)

    def __post_init__(self):
        self.data_dir = Path(self.data_dir)
        if not self.models:
            raise ConfigError("no --model given", hint="fakescope serve --model runs/r18/best")
        if self.max_batch_size < 1:
            raise ConfigError("--max-batch-size must be at least 1")
        if self.batch_timeout_ms < 0:
            raise ConfigError("--batch-timeout-ms must be 0 or more")
        if self.limits.queued_images < 1 or self.limits.queued_jobs < 1:
            raise ConfigError("--queued-images and --queued-jobs must be at least 1")
        if self.samples < 1:
            raise ConfigError("--samples must be at least 1")
        if self.faces not in ("auto", "hog", "cnn", "none"):
            raise ConfigError(f"--faces {self.faces!r}",
                              hint="use auto, hog, cnn or none")
        if self.retention_hours <= 0:
            raise ConfigError("--retention-hours must be positive")
        if not 0 < self.bands.low < self.bands.high < 1:
            raise ConfigError("band thresholds need 0 < low < high < 1")
        self.api_key = self.api_key or os.environ.get(API_KEY_ENV) or None
        self.webhook_secret = self.webhook_secret or os.environ.get(WEBHOOK_SECRET_ENV) or None
