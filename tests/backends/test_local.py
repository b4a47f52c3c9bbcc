"""The local backend: in process and a spawned pool, with a task whose process dies."""

from __future__ import annotations

import pytest

from fakescope.backends import Backend, WorkerSetupError, make_backend, run_tasks
from fakescope.errors import ConfigError
from tests._dummies.workers import AlwaysDie, BadSetup, DieOnce, Square


def _failed(task, msg):
    return ("failed", task, msg)


@pytest.mark.parametrize("workers", [1, 2])
def test_every_task_once_with_setup_once_per_process(workers):
    tasks = [3, 1, "raise", 4, 2]
    out = dict(run_tasks(Square(), tasks, backend=Backend("local", workers),
                         on_failure=_failed))
    assert sorted(out) == [0, 1, 2, 3, 4]
    assert out[2] == ("failed", "raise", "ValueError: bad task")
    assert [out[i] for i in (0, 1, 3, 4)] == [(9, True), (1, True), (16, True), (4, True)]


def test_a_killed_task_is_rerun_in_a_new_process(tmp_path):
    tasks = list(range(6))
    out = list(run_tasks(DieOnce(tmp_path, 2), tasks, backend=Backend("local", 2),
                         on_failure=_failed))
    assert sorted(i for i, _ in out) == tasks  # each once: none lost, none twice
    assert sorted(r for _, r in out) == tasks
    assert (tmp_path / "died-2").is_file()


def test_a_task_that_keeps_killing_its_process_fails_after_retries():
    out = dict(run_tasks(AlwaysDie(), [0, 1, 2], backend=Backend("local", 2, retries=1),
                         on_failure=_failed))
    assert out[0] == 0 and out[2] == 2
    assert out[1][0] == "failed" and "died 2 time(s)" in out[1][2] and "exit code 3" in out[1][2]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_that_cannot_set_up_stops_the_batch(workers):
    with pytest.raises(WorkerSetupError, match="no model here"):
        list(run_tasks(BadSetup(), [1, 2, 3], backend=Backend("local", workers),
                       on_failure=_failed))


def test_backend_options_are_checked():
    with pytest.raises(ConfigError, match="unknown backend 'dask'"):
        make_backend("dask")
    with pytest.raises(ConfigError, match="workers=0 with the local backend"):
        make_backend("local", workers=0)
    with pytest.raises(ConfigError, match="add --backend ray"):
        make_backend("local", address="10.0.0.1:6379")
    assert make_backend("ray", workers=0, address="").address is None
    assert Backend("local", 1).inline and not Backend("local", 2).inline
