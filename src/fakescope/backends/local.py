"""The local backend's process pool: spawned workers, one task at a time each, a task whose
process died is run again (up to ``retries`` times) in a fresh process.

Each process gets its task over its own pipe, so the driver always knows which task a dead
process held (``multiprocessing.Pool`` hangs and ``ProcessPoolExecutor`` fails every pending
task when one worker dies).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait

from fakescope.backends.worker import describe_exception, setup_failure, setup_worker

_SETUP = -1  # task index of a setup failure message


def _serve(conn, worker) -> None:
    """A worker process: set up, then answer ``(i, task)`` with ``(i, ok, result_or_message)``
    until told to stop (``None``) or the driver is gone."""
    try:
        setup_worker(worker)
    except BaseException as exc:  # noqa: BLE001 - reported to the driver, which raises it
        try:
            conn.send((_SETUP, False, exc))
        except Exception:  # noqa: BLE001 - the exception does not pickle
            conn.send((_SETUP, False, RuntimeError(describe_exception(exc))))
        return
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        i, task = msg
        try:
            out = (i, True, worker(task))
        except Exception as exc:  # noqa: BLE001 - the task fails, the process goes on
            out = (i, False, describe_exception(exc))
        try:
            conn.send(out)
        except Exception as exc:  # noqa: BLE001 - e.g. a result that does not pickle
            conn.send((i, False, f"result could not be sent: {describe_exception(exc)}"))


@dataclass
class _Slot:
    proc: mp.process.BaseProcess
    conn: object
    task: int | None = None


def pool_map(worker, tasks: Sequence, *, workers: int, retries: int
             ) -> Iterator[tuple[int, bool, object]]:
    """Run ``worker`` over ``tasks`` in ``workers`` spawned processes; yield ``(index, ok,
    result)`` as tasks finish (``ok`` False: ``result`` is the failure message)."""
    ctx = mp.get_context("spawn")

    def start() -> _Slot:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child, worker), daemon=True)
        proc.start()
        child.close()
        return _Slot(proc, parent)

    todo = deque(range(len(tasks)))
    deaths = [0] * len(tasks)
    slots = [start() for _ in range(min(workers, len(tasks)))]
    try:
        while todo or any(s.task is not None for s in slots):
            for k, s in enumerate(slots):
                if s.task is None and todo:
                    i = todo.popleft()
                    try:
                        s.conn.send((i, tasks[i]))
                        s.task = i
                    except (BrokenPipeError, OSError):  # died idle (e.g. in setup)
                        todo.appendleft(i)
                        msg = _read(s)
                        if msg is not None and msg[0] == _SETUP:
                            raise setup_failure(msg[2]) from None
                        slots[k] = start()
            busy = [s for s in slots if s.task is not None]
            ready = set(wait([s.conn for s in busy] + [s.proc.sentinel for s in busy]))
            for k, s in enumerate(slots):
                if s.task is None or (s.conn not in ready and s.proc.sentinel not in ready):
                    continue
                msg = _read(s)
                if msg is not None:
                    if msg[0] == _SETUP:
                        raise setup_failure(msg[2])
                    s.task = None
                    yield msg
                    continue
                if s.proc.is_alive():
                    continue
                i, s.task = s.task, None
                deaths[i] += 1
                s.proc.join()
                code = s.proc.exitcode
                s.conn.close()
                slots[k] = start()
                if deaths[i] <= retries:
                    todo.appendleft(i)
                else:
                    yield (i, False, f"worker process died {deaths[i]} time(s) running this "
                                     f"task (last exit code {code})")
    finally:
        for s in slots:
            with contextlib.suppress(BrokenPipeError, OSError):
                s.conn.send(None)
        for s in slots:
            s.proc.join(timeout=10)
            if s.proc.is_alive():
                s.proc.terminate()
                s.proc.join()
            s.conn.close()


def _read(s: _Slot):
    """The slot's next message, or None when there is none (its process is gone)."""
    try:
        if s.conn.poll():
            return s.conn.recv()
    except (EOFError, OSError):
        pass
    return None
