"""The service without HTTP: detectors, the micro-batcher, the job store and runner, metrics.

:class:`Service` is what the FastAPI routes call; it is usable (and tested) on its own.
``start()`` loads the checkpoints (``ready`` turns true when every one is loaded), marks jobs
a previous process left unfinished as interrupted and sweeps expired results.
"""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from fakescope.serve.batching import Item, MicroBatcher
from fakescope.serve.detectors import LoadedDetector, load_detectors
from fakescope.serve.jobs import JobStore
from fakescope.serve.limits import IntakeError, check_image_header
from fakescope.serve.metrics import ServiceMetrics
from fakescope.serve.results import detector_entry, file_answer, intake_failure
from fakescope.serve.settings import ServeSettings

SWEEP_EVERY_S = 60.0


class Service:
    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.limits = settings.limits
        self.rule = settings.bands
        self.threshold = settings.threshold
        self.max_batch_size = settings.max_batch_size
        self.webhook_secret = settings.webhook_secret
        self.metrics = ServiceMetrics()
        self.compute_lock = threading.Lock()
        self.detectors: list[LoadedDetector] = []
        self.batcher: MicroBatcher | None = None
        self.store = JobStore(settings.data_dir, retention_s=settings.retention_hours * 3600)
        self.runner = None
        self.load_error: str | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self.started = time.time()
        m = self.metrics
        m.gauge("fakescope_ready", "1 when every model is loaded.", lambda: float(self.ready))
        m.gauge("fakescope_queued_images", "Images waiting for a batch.",
                lambda: float(self.batcher.pending() if self.batcher else 0))
        m.gauge("fakescope_jobs_unfinished", "Jobs queued or running.",
                lambda: float(self.store.count()))

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def image_detectors(self) -> list[LoadedDetector]:
        """The detectors that score images (all but the biological, clip-only ones)."""
        return [d for d in self.detectors if d.scores_images]

    def not_applicable(self, kind: str) -> dict[str, str]:
        """{detector key: why} of the loaded detectors that do not answer a file of ``kind``."""
        if kind != "image":
            return {}
        return {d.key: f"{d.name} reads the pulse or motion of a whole clip (signal maps over "
                "time), so it answers videos only" for d in self.detectors
                if not d.scores_images}

    # ------------------------------------------------------------------ life cycle

    def start(self, *, background: bool = True) -> None:
        """Recover the job store, then load the models (in a thread when ``background``)."""
        from fakescope.serve.runner import JobRunner

        self.store.recover()
        self.store.sweep()
        self.runner = JobRunner(self)
        threading.Thread(target=self._sweeper, name="fakescope-sweeper", daemon=True).start()
        if background:
            threading.Thread(target=self._load, name="fakescope-loader", daemon=True).start()
        else:
            self._load()
            if self.load_error:
                raise RuntimeError(self.load_error)

    def _load(self) -> None:
        s = self.settings
        try:
            self.detectors = load_detectors(s.models, device=s.device,
                                            uncertainty=s.uncertainty, samples=s.samples,
                                            options=s.detect_options())
        except Exception as exc:
            self.load_error = str(exc)
            return
        self.batcher = MicroBatcher(self.image_detectors, max_batch_size=s.max_batch_size,
                                    batch_timeout_ms=s.batch_timeout_ms,
                                    queued_images=self.limits.queued_images,
                                    metrics=self.metrics, compute_lock=self.compute_lock)
        self._ready.set()

    def _sweeper(self) -> None:
        while not self._stop.wait(SWEEP_EVERY_S):
            self.store.sweep()

    def close(self) -> None:
        self._stop.set()
        if self.runner:
            self.runner.close()
        if self.batcher:
            self.batcher.close()
        self.store.close()

    def require_ready(self) -> None:
        if not self.ready:
            why = f"models failed to load: {self.load_error}" if self.load_error else \
                "the models are still loading"
            raise IntakeError(503, why, retry_after=5)

    # ------------------------------------------------------------------ images

    def prepare_image(self, data: bytes, name: str, *, maps: bool) -> Item:
        """Check an uploaded image's header (415/422 before it is queued; nothing decoded);
        422 when every loaded detector is a clip-only (biological) one."""
        check_image_header(data, self.limits, name)
        if not self.image_detectors:
            clip_only = ", ".join(self.not_applicable("image"))
            raise IntakeError(422, f"{name}: the loaded detectors ({clip_only}) read the pulse "
                              "or motion of whole clips; send a video (POST /jobs)")
        return Item(data=data, maps=maps)

    def image_answer(self, name: str, found: dict[str, dict], data: bytes) -> dict[str, Any]:
        """The file's answer from every detector's session result; 422 when the file itself
        could not be read by any of them (truncated, corrupt...)."""
        entries = {d.key: detector_entry(d, name, found[d.key], rule=self.rule)
                   for d in self.image_detectors}
        problem = intake_failure(entries)
        if problem:
            raise IntakeError(422, f"{name}: {problem}")
        extra = {"not_applicable": self.not_applicable("image")} if len(
            entries) < len(self.detectors) else {}
        return file_answer(name, "image", entries, self.metrics,
                           sha256=hashlib.sha256(data).hexdigest(), **extra)

    def score_image_sync(self, data: bytes, name: str, *, maps: bool,
                         timeout: float | None = None) -> dict[str, Any]:
        """Check, queue, wait: one image's answer (jobs and tests; routes await instead)."""
        self.require_ready()
        fut = self.batcher.submit(self.prepare_image(data, name, maps=maps))
        try:
            found = fut.result(timeout=timeout or self.limits.request_seconds)
        except FutureTimeout:
            fut.cancel()
            raise IntakeError(504, f"{name}: scoring took longer than "
                              f"{self.limits.request_seconds:g} s",
                              limit="request_seconds") from None
        return self.image_answer(name, found, data)

    # ------------------------------------------------------------------ jobs

    def analyse_stored(self, path: Path, name: str, kind: str, *, maps: bool, tick) -> dict:
        """A job's work on its stored upload (``kind`` image or video)."""
        self.require_ready()
        if kind == "video":
            from fakescope.serve.video import analyse_video

            return analyse_video(path, name, self, maps=maps, tick=tick)
        tick(0.1, "scoring", None)
        return self.score_image_sync(path.read_bytes(), name, maps=maps)
