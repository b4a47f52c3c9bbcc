"""Workers for the backend tests (importable, so spawned processes and Ray workers unpickle
them)."""

from __future__ import annotations

import os
from pathlib import Path


class Square:
    """``task -> task ** 2``; ``setup`` records the process it ran in (once per process)."""

    def __init__(self):
        self.ready_in = None

    def setup(self):
        self.ready_in = os.getpid()

    def __call__(self, task):
        if task == "raise":
            raise ValueError("bad task")
        return task * task, self.ready_in == os.getpid()


class DieOnce:
    """Kills its own process the first time it runs the task named ``victim`` (a marker file in
    ``folder`` remembers it), then returns the task on the retry."""

    def __init__(self, folder, victim):
        self.folder, self.victim = str(folder), victim

    def __call__(self, task):
        marker = Path(self.folder) / f"died-{task}"
        if task == self.victim and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(17)
        return task


class AlwaysDie:
    def __call__(self, task):
        if task == 1:
            os._exit(3)
        return task


class BadSetup:
    def setup(self):
        raise RuntimeError("no model here")

    def __call__(self, task):
        return task
