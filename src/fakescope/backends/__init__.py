"""Where batch work runs: in this process, in a pool of local processes, or as Ray tasks on a
cluster, behind one call.

    from fakescope.backends import Backend, run_tasks

    backend = Backend("ray", address="10.0.0.5:6379")     # or Backend("local", workers=8)
    for i, result in run_tasks(worker, tasks, backend=backend, on_failure=failed):
        ...                                              # as tasks finish, in any order

Face extraction (``fakescope data faces``), video signals (``fakescope data signals``),
scoring (``fakescope evaluate``) and batch ``fakescope detect`` run their tasks through
:func:`run_tasks`. A worker writes each task's outputs with a done marker last, so a task that
is run again after its process died (both backends retry it, ``Backend.retries`` times) rewrites
the same files: no row is lost or written twice. See ``docs/scaling.md``.

Layer: like ``registry``, a top-level package the layers tool does not place; it imports only
``errors`` (layer 0), and ``ray`` lazily.
"""

from fakescope.backends.make import make_backend
from fakescope.backends.runner import run_tasks
from fakescope.backends.spec import BACKENDS, Backend
from fakescope.backends.worker import Worker, WorkerSetupError

__all__ = ["BACKENDS", "Backend", "Worker", "WorkerSetupError", "make_backend", "run_tasks"]
