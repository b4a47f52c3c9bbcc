"""Which backend runs a batch of tasks, and its settings (validated before any work)."""

from __future__ import annotations

from dataclasses import dataclass

from fakescope.errors import ConfigError

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class Backend:
    """Where the tasks of a batch command run.

    ``name``: ``"local"`` (this machine: in this process with ``workers=1``, else a pool of
    ``workers`` spawned processes) or ``"ray"`` (Ray tasks on a cluster).
    ``workers``: local: processes; ray: at most this many tasks in flight and, when Ray is
    started here (no ``address``), its CPUs (0: every CPU).
    ``address``: ray only: the cluster to join (``host:6379``, ``ray://host:10001`` or
    ``auto``); None starts Ray on this machine for the run and stops it after.
    ``gpus``: ray only: GPUs per task; None: 1 for model tasks (scoring, detect) when the
    cluster has GPUs, else 0; fractions pack several tasks on one GPU.
    ``retries``: times a task is run again after its process died (killed, out of memory,
    a crashing decoder), in both backends; a task that raises is not retried.
    """

    name: str = "local"
    workers: int = 1
    address: str | None = None
    gpus: float | None = None
    retries: int = 2

    def __post_init__(self):
        if self.name not in BACKENDS:
            raise ConfigError(f"unknown backend {self.name!r}", hint=f"use {' or '.join(BACKENDS)}")
        low = 1 if self.name == "local" else 0
        if self.workers < low:
            raise ConfigError(f"workers={self.workers} with the {self.name} backend",
                              hint=f"use {low} or more"
                              + (" (0: every CPU of the Ray instance)" if low == 0 else ""))
        if self.name == "local" and (self.address is not None or self.gpus is not None):
            raise ConfigError("a Ray address or GPUs per task were given with the local backend",
                              hint="add --backend ray, or drop --ray-address")
        if self.gpus is not None and self.gpus < 0:
            raise ConfigError(f"gpus per task = {self.gpus}", hint="use 0 or more")
        if self.retries < 0:
            raise ConfigError(f"retries={self.retries}", hint="use 0 or more")

    @property
    def inline(self) -> bool:
        """True when tasks run one after another in this process (local, one worker)."""
        return self.name == "local" and self.workers <= 1

    def describe(self) -> str:
        if self.name == "local":
            return "in this process" if self.inline else f"{self.workers} local processes"
        where = self.address or "a Ray instance started on this machine"
        return f"Ray tasks on {where}"
