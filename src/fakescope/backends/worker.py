"""What a task runner is given: a picklable worker object, set up once per process."""

from __future__ import annotations

from typing import Any, Protocol

from fakescope.errors import FakescopeError


class Worker(Protocol):
    """Runs the tasks of one batch. It is pickled to every process that runs tasks (keep it
    small: settings and paths, models load in ``setup``), ``setup()`` (optional) is called once
    in each process before its first task, then ``worker(task)`` once per task. Results must
    pickle. A worker writes its task's outputs itself (atomically, with a done marker last), so
    a task that is run again after its process died rewrites the same files."""

    def __call__(self, task: Any) -> Any: ...


class WorkerSetupError(FakescopeError):
    """A worker process could not set itself up (the batch cannot run anywhere)."""


def setup_worker(worker) -> None:
    fn = getattr(worker, "setup", None)
    if fn is not None:
        fn()


def setup_failure(exc: BaseException) -> FakescopeError:
    """The error the driver raises for a worker's failed setup: a user error as it was, any
    other exception as a :class:`WorkerSetupError` naming it."""
    if isinstance(exc, FakescopeError):
        return exc
    return WorkerSetupError(f"a worker could not start: {type(exc).__name__}: {exc}")


def describe_exception(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
