"""The job runner: one thread takes queued jobs in order and runs them to done or failed.

Each step reports progress through ``tick``, which also stops the job when it was deleted
(``DELETE /jobs/{id}``) or ran past ``job_seconds`` (failed with status 504). A finished job
with a webhook gets one signed POST (:func:`send_webhook`); its upload is deleted either way.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.request
from typing import Any

from fakescope.errors import FakescopeError
from fakescope.serve.limits import IntakeError

log = logging.getLogger("fakescope.serve")
SIGNATURE_HEADER = "X-Fakescope-Signature"
TIMESTAMP_HEADER = "X-Fakescope-Timestamp"


class _Stop(Exception):
    pass


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def send_webhook(url: str, secret: str, payload: dict[str, Any], *, timeout: float = 10.0) -> int:
    """POST ``payload`` as JSON, signed (headers :data:`SIGNATURE_HEADER`, :data:`TIMESTAMP_HEADER`);
    returns the HTTP status (0 when the receiver could not be reached)."""
    body = json.dumps(payload).encode()
    ts = str(int(time.time()))
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: sign(secret, ts, body)})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) only
            return int(resp.status)
    except OSError as exc:
        log.warning("webhook %s failed: %s", url, exc)
        return 0


class JobRunner:
    """Runs jobs of ``service.store`` on a worker thread; ``enqueue(job_id)`` after creating."""

    def __init__(self, service):
        self.service = service
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="fakescope-jobs", daemon=True)
        self._thread.start()

    def enqueue(self, job_id: str) -> None:
        self._queue.put(job_id)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                self.run(job_id)
            except Exception:  # the runner must survive any single job
                log.exception("job %s crashed the runner step", job_id)

    def run(self, job_id: str) -> None:
        svc = self.service
        store = svc.store
        job = store.get(job_id)
        if job is None:  # deleted while queued
            return
        deadline = time.monotonic() + svc.limits.job_seconds

        def tick(progress: float, stage: str, partial: dict[str, Any] | None) -> None:
            fields: dict[str, Any] = {"progress": round(progress, 3), "stage": stage}
            if partial is not None:
                fields["result"] = partial
            if not store.update(job_id, **fields):
                raise _Stop
            if time.monotonic() > deadline:
                raise IntakeError(504, f"the job ran past its time limit of "
                                  f"{svc.limits.job_seconds:g} s", limit="job_seconds")

        final: dict[str, Any]
        try:
            tick(0.0, "starting", None)
            store.update(job_id, state="running")
            path = store.upload_path(job_id)
            result = svc.analyse_stored(path, job["name"], job["kind"],
                                        maps=bool(job["options"].get("maps", True)), tick=tick)
            final = {"state": "done", "progress": 1.0, "stage": "", "result": result}
        except _Stop:
            store.upload_path(job_id).unlink(missing_ok=True)
            return
        except IntakeError as exc:
            final = {"state": "failed", "stage": "", "error": exc.message,
                     "error_status": exc.status}
        except FakescopeError as exc:
            final = {"state": "failed", "stage": "", "error": str(exc), "error_status": 422}
        except Exception as exc:
            log.exception("job %s failed", job_id)
            final = {"state": "failed", "stage": "", "error_status": 500,
                     "error": f"internal error ({type(exc).__name__}); the server log has "
                              "the details"}
        store.upload_path(job_id).unlink(missing_ok=True)
        if not store.update(job_id, **final):
            return
        svc.metrics.jobs.inc(state=final["state"])
        hook = job["options"].get("webhook")
        if hook and svc.webhook_secret:
            send_webhook(hook, svc.webhook_secret, {
                "id": job_id, "state": final["state"], "url": f"/jobs/{job_id}",
                "verdict": (final.get("result") or {}).get("verdict", {}).get("band")})
