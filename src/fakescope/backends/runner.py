"""``run_tasks``: one loop for every batch command, whatever the backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fakescope.backends.spec import Backend
from fakescope.backends.worker import describe_exception, setup_failure, setup_worker


def _inline(worker, tasks: Sequence) -> Iterator[tuple[int, bool, object]]:
    try:
        setup_worker(worker)
    except Exception as exc:  # noqa: BLE001 - as a worker process would report it
        raise setup_failure(exc) from exc
    for i, task in enumerate(tasks):
        try:
            out = (i, True, worker(task))
        except Exception as exc:  # noqa: BLE001 - the task fails, the batch goes on
            out = (i, False, describe_exception(exc))
        yield out


def run_tasks(worker, tasks: Sequence, *, backend: Backend | None = None,
              on_failure: Callable[[Any, str], Any], uses_gpu: bool = False,
              progress: str | None = None, unit: str = "item") -> Iterator[tuple[int, Any]]:
    """Run ``worker`` (see :class:`~fakescope.backends.worker.Worker`) over ``tasks`` on
    ``backend`` (default: local, in this process); yield ``(index, result)`` as tasks finish,
    in any order. A task that raised, or whose process died more than ``backend.retries``
    times, yields ``on_failure(task, message)`` instead (which may raise to stop the batch).
    ``uses_gpu``: the tasks run a model (Ray gives each a GPU when the cluster has some).
    ``progress``: the progress bar's label (None: no bar)."""
    backend = backend or Backend()
    if backend.inline or not tasks:
        results = _inline(worker, tasks)
    elif backend.name == "local":
        from fakescope.backends.local import pool_map

        results = pool_map(worker, tasks, workers=backend.workers, retries=backend.retries)
    else:
        from fakescope.backends.ray_tasks import ray_map

        results = ray_map(worker, tasks, backend=backend, uses_gpu=uses_gpu)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), unit=unit, desc=progress)
    try:
        for i, ok, value in results:
            yield i, (value if ok else on_failure(tasks[i], value))
            if bar:
                bar.update()
    finally:
        results.close()
        if bar:
            bar.close()
