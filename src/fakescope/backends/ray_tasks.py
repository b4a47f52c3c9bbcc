"""The Ray backend: one Ray task per task, the worker shipped once through the object store and
set up once per Ray worker process; a task whose process died is retried by Ray
(``max_retries``), a task that raised is not.

Ray is an optional extra (``pip install 'fakescope[ray]'``); it is imported only here, when the
backend is used. Every node needs fakescope installed (same version) and the inputs and the
output folder at the same paths (a shared filesystem), as a SLURM job array does.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from fakescope.backends.spec import Backend
from fakescope.backends.worker import (
    WorkerSetupError,
    describe_exception,
    setup_failure,
    setup_worker,
)
from fakescope.errors import ConfigError

_READY: dict[str, object] = {}  # run token -> the set-up worker of this Ray worker process


class _SetupFailed(Exception):
    """Raised in a Ray task whose worker could not be set up (carries the original error)."""

    def __init__(self, error: BaseException):
        super().__init__(describe_exception(error))
        self.error = error


def _call(token: str, boxed: list, task):
    """The remote function: the run's worker (set up on first use in this process), then the
    task. ``boxed`` holds the worker's ObjectRef in a list so Ray does not fetch it per task."""
    worker = _READY.get(token)
    if worker is None:
        import ray

        worker = ray.get(boxed[0])
        try:
            setup_worker(worker)
        except BaseException as exc:  # noqa: BLE001 - the driver raises it
            raise _SetupFailed(exc) from None
        _READY.clear()  # one run's worker per process: the previous run's model is freed
        _READY[token] = worker
    return worker(task)


def require_ray(*, import_it: bool = True):
    """The ``ray`` module (None with ``import_it=False``: only checks that it is installed), or
    a ConfigError saying how to install it."""
    missing = ConfigError("the Ray backend needs the ray package, which is not installed",
                          hint="pip install 'fakescope[ray]' (or leave out --backend ray)")
    if not import_it:
        if importlib.util.find_spec("ray") is None:
            raise missing
        return None
    try:
        import ray
    except ImportError as exc:
        raise missing from exc
    return ray


def check_address(address: str, timeout: float = 5.0) -> None:
    """ConfigError unless ``host:port`` (or ``ray://host:port``) accepts a TCP connection."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"Ray address {address!r} is not host:port",
                          hint="e.g. --ray-address 10.0.0.5:6379 (the head's GCS port), "
                          "ray://10.0.0.5:10001 (Ray Client) or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {address} ({exc})",
                          hint="start it with `ray start --head` on the head node and give its "
                          "address, or leave out --ray-address to start Ray on this machine"
                          ) from exc


@contextmanager
def ray_session(backend: Backend):
    """Use the running Ray session, or join/start one for the run (stopped after it)."""
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    opts: dict = {"logging_level": logging.WARNING}
    if backend.address:
        check_address(backend.address)
        opts["address"] = backend.address
    else:
        # Workers of a Ray started here import what this process imports (as spawned
        # processes do): fakescope from a source checkout, a worker class from a script.
        path = os.pathsep.join(p for p in sys.path if p)
        opts.update(num_cpus=backend.workers or None, include_dashboard=False,
                    runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        ray.init(**opts)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        where = backend.address or "this machine"
        raise ConfigError(f"could not start or join Ray on {where}: {exc}",
                          hint="check --ray-address (`ray status` on the head node prints it)"
                          ) from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def ray_map(worker, tasks: Sequence, *, backend: Backend, uses_gpu: bool
            ) -> Iterator[tuple[int, bool, object]]:
    """Run ``worker`` over ``tasks`` as Ray tasks; yield ``(index, ok, result)`` as they finish
    (``ok`` False: ``result`` is the failure message)."""
    if not tasks:
        return
    with ray_session(backend) as ray:
        from ray.exceptions import RayTaskError

        resources = ray.cluster_resources()
        gpus = backend.gpus
        if gpus is None:
            gpus = 1.0 if uses_gpu and resources.get("GPU", 0) > 0 else 0.0
        remote = ray.remote(_call).options(num_cpus=1, num_gpus=gpus,
                                           max_retries=backend.retries,
                                           retry_exceptions=False)
        token, boxed = uuid.uuid4().hex, [ray.put(worker)]
        window = backend.workers or max(2 * int(resources.get("CPU", 1)), 2)
        pending: dict = {}
        queue = iter(range(len(tasks)))

        def submit(n: int) -> None:
            for _ in range(n):
                i = next(queue, None)
                if i is None:
                    return
                pending[remote.remote(token, boxed, tasks[i])] = i

        submit(window)
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    i = pending.pop(ref)
                    try:
                        out = (i, True, ray.get(ref))
                    except RayTaskError as exc:
                        cause = exc.cause
                        if isinstance(cause, _SetupFailed):
                            raise setup_failure(cause.error) from None
                        out = (i, False, describe_exception(cause) if cause else str(exc))
                    except ray.exceptions.RayError as exc:  # process died more than retries
                        out = (i, False, f"Ray task failed after {backend.retries} retries: "
                                         f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
                    yield out
                submit(len(done))
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)


__all__ = ["WorkerSetupError", "check_address", "ray_map", "ray_session", "require_ray"]
