"""The job store: jobs and their results in SQLite (standard library) under the data folder.

Layout: ``DATA/jobs.sqlite3`` (one row per job) and ``DATA/uploads/<job id>`` (the uploaded
bytes, named by the job id only: an uploaded file's name never reaches the file system; it is
kept as a display string in the row). States::

    queued -> running -> done | failed
    queued | running  -> interrupted   (the server stopped first; found at the next start)

A finished job keeps its result until ``retention_s`` after it finished, or until
``DELETE /jobs/{id}``; both remove the row and the upload. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

UNFINISHED = ("queued", "running")
FINISHED = ("done", "failed", "interrupted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    finished REAL,
    progress REAL NOT NULL DEFAULT 0,
    stage TEXT NOT NULL DEFAULT '',
    error TEXT,
    error_status INTEGER,
    options TEXT NOT NULL DEFAULT '{}',
    result TEXT
)
"""


class JobStore:
    """Thread-safe access to the jobs table (one connection, one lock)."""

    def __init__(self, folder: str | Path, *, retention_s: float = 24 * 3600):
        self.folder = Path(folder)
        self.uploads = self.folder / "uploads"
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.retention_s = retention_s
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.folder / "jobs.sqlite3", check_same_thread=False,
                                   isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ writes

    def create(self, *, kind: str, name: str, options: dict[str, Any] | None = None) -> str:
        job_id = uuid.uuid4().hex
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, state, kind, name, created, updated, options) "
                "VALUES (?, 'queued', ?, ?, ?, ?, ?)",
                (job_id, kind, name, now, now, json.dumps(options or {})))
        return job_id

    def upload_path(self, job_id: str) -> Path:
        if not all(c in "0123456789abcdef" for c in job_id) or len(job_id) != 32:
            raise ValueError("not a job id")
        return self.uploads / job_id

    def update(self, job_id: str, **fields: Any) -> bool:
        """Set columns (``result`` as JSON); False when the job no longer exists (deleted)."""
        if "result" in fields and fields["result"] is not None:
            fields["result"] = json.dumps(fields["result"])
        if fields.get("state") in FINISHED:
            fields.setdefault("finished", time.time())
        fields["updated"] = time.time()
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            cur = self._db.execute(f"UPDATE jobs SET {cols} WHERE id = ?",
                                   (*fields.values(), job_id))
        return cur.rowcount == 1

    def delete(self, job_id: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        self.upload_path(job_id).unlink(missing_ok=True)
        return cur.rowcount == 1

    def recover(self) -> list[str]:
        """At start: jobs a previous process left queued or running become ``interrupted``
        (their uploads are removed); returns their ids."""
        with self._lock:
            ids = [r["id"] for r in self._db.execute(
                "SELECT id FROM jobs WHERE state IN ('queued', 'running')")]
        for job_id in ids:
            self.update(job_id, state="interrupted", stage="",
                        error="the server stopped before this job finished; submit the file "
                              "again")
            self.upload_path(job_id).unlink(missing_ok=True)
        return ids

    def sweep(self, now: float | None = None) -> int:
        """Delete finished jobs older than the retention; returns how many."""
        cutoff = (now or time.time()) - self.retention_s
        with self._lock:
            ids = [r["id"] for r in self._db.execute(
                "SELECT id FROM jobs WHERE finished IS NOT NULL AND finished < ?", (cutoff,))]
        for job_id in ids:
            self.delete(job_id)
        for f in self.uploads.iterdir():  # uploads whose row is gone (a crash mid-delete)
            if f.is_file() and self.get(f.name) is None:
                f.unlink(missing_ok=True)
        return len(ids)

    # ------------------------------------------------------------------ reads

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        job = dict(row)
        job["options"] = json.loads(job["options"] or "{}")
        job["result"] = json.loads(job["result"]) if job["result"] else None
        return job

    def count(self, states: tuple[str, ...] = UNFINISHED) -> int:
        marks = ", ".join("?" for _ in states)
        with self._lock:
            return int(self._db.execute(f"SELECT COUNT(*) FROM jobs WHERE state IN ({marks})",
                                        states).fetchone()[0])

    def public(self, job: dict[str, Any]) -> dict[str, Any]:
        """A job as ``GET /jobs/{id}`` shows it (no internal options)."""
        out = {k: job[k] for k in ("id", "state", "kind", "name", "progress", "stage")}
        out.update(created=_iso(job["created"]), updated=_iso(job["updated"]),
                   finished=_iso(job["finished"]) if job["finished"] else None,
                   expires=_iso(job["finished"] + self.retention_s) if job["finished"] else None,
                   result=job["result"])
        if job["error"]:
            out["error"] = {"status": job["error_status"], "message": job["error"]}
        return out


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
