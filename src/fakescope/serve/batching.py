"""Micro-batching: images sent one by one by many clients are scored in shared batches.

One worker thread takes the first waiting image, then keeps taking until ``max_batch_size``
images are gathered or ``batch_timeout_ms`` has passed since the first, and gives the batch to
every detector's :class:`~fakescope.detect.DetectSession` in one ``iter_detect`` call (decode,
faces, one forward pass per detector for all the batch's faces). Callers get a :class:`concurrent.futures.Future` per image; the
queue is bounded (``queued_images``), so a full queue is refused at once (503) instead of
growing latency without limit. A cancelled future (its request timed out) is skipped.

Torch work of the batcher and the job runner is serialised by one ``compute_lock``, so the two
never oversubscribe the CPU cores with competing intra-op thread pools.
"""

from __future__ import annotations

import math
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from fakescope.detect import MediaInput
from fakescope.serve.detectors import LoadedDetector
from fakescope.serve.limits import IntakeError
from fakescope.serve.metrics import ServiceMetrics


@dataclass
class Item:
    """One uploaded image to score: its bytes, whether to draw overlay maps, and ``uid``, the
    name the detect session (and any map file) knows it by (never the uploaded name)."""

    data: bytes
    maps: bool = False
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)
    future: Future = field(default_factory=Future)


class MicroBatcher:
    """Scores :class:`Item` s in micro-batches on a worker thread (see the module doc)."""

    def __init__(self, detectors: list[LoadedDetector], *, max_batch_size: int = 16,
                 batch_timeout_ms: float = 10.0, queued_images: int = 256,
                 metrics: ServiceMetrics | None = None,
                 compute_lock: threading.Lock | None = None):
        if max_batch_size < 1 or batch_timeout_ms < 0:
            raise ValueError("max_batch_size >= 1 and batch_timeout_ms >= 0")
        self.detectors = detectors
        self.max_batch_size = max_batch_size
        self.timeout = batch_timeout_ms / 1000.0
        self.metrics = metrics or ServiceMetrics()
        self.compute_lock = compute_lock or threading.Lock()
        self._queue: queue.Queue[Item | None] = queue.Queue(maxsize=queued_images)
        self._seconds_per_image = 0.05  # running estimate for Retry-After
        self._thread = threading.Thread(target=self._run, name="fakescope-batcher", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ callers

    def submit(self, item: Item) -> Future:
        """Queue one image; IntakeError 503 with Retry-After when the queue is full."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            raise IntakeError(503, "the service is busy: too many images are waiting",
                              limit="queued_images", retry_after=self.retry_after()) from None
        return item.future

    def retry_after(self) -> int:
        """Seconds until the current queue should have drained (at least 1)."""
        return max(1, math.ceil(self._queue.qsize() * self._seconds_per_image))

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        """Stop the worker after the images already queued."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    # ------------------------------------------------------------------ worker

    def _gather(self, first: Item) -> tuple[list[Item], bool]:
        batch, stop = [first], False
        deadline = time.monotonic() + self.timeout
        while len(batch) < self.max_batch_size:
            left = deadline - time.monotonic()
            try:
                nxt = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                stop = True
                break
            batch.append(nxt)
        return [it for it in batch if it.future.set_running_or_notify_cancel()], stop

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._gather(first)
            if batch:
                try:
                    results = self.score(batch)
                except Exception as exc:  # every waiting request gets the failure, not a hang
                    for it in batch:
                        it.future.set_exception(exc)
                else:
                    for it, r in zip(batch, results, strict=True):
                        it.future.set_result(r)
            if stop:
                return

    def score(self, batch: list[Item]) -> list[dict[str, dict[str, Any]]]:
        """Every detector's session on the batch -> per item ``{detector key: result}``
        (items that want maps go in a second call, with a map folder)."""
        t0 = time.perf_counter()
        out: list[dict[str, dict[str, Any]]] = [{} for _ in batch]
        self.metrics.batch_size.observe(len(batch))
        groups = [[i for i, it in enumerate(batch) if it.maps == m] for m in (False, True)]
        with self.compute_lock:
            for det in self.detectors:
                t = time.perf_counter()
                for maps, idx in zip((False, True), groups, strict=True):
                    if not idx:
                        continue
                    inputs = [MediaInput(name=batch[i].uid, data=batch[i].data, kind="image")
                              for i in idx]
                    for i, r in zip(idx, det.score(inputs, maps=maps), strict=True):
                        out[i][det.key] = r
                self.metrics.detector_seconds.observe(time.perf_counter() - t,
                                                      detector=det.key)
        per = (time.perf_counter() - t0) / len(batch)
        self._seconds_per_image = 0.8 * self._seconds_per_image + 0.2 * per
        return out
