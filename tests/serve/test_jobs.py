import time

import pytest

from fakescope.serve.jobs import JobStore


def test_lifecycle_and_public_view(tmp_path):
    s = JobStore(tmp_path)
    jid = s.create(kind="video", name="clip.mp4", options={"maps": True})
    assert s.get(jid)["state"] == "queued" and s.count() == 1
    assert s.update(jid, state="running", progress=0.5, result={"partial": 1})
    s.update(jid, state="done", progress=1.0, result={"x": [1, 2]})
    job = s.get(jid)
    assert job["result"] == {"x": [1, 2]} and job["finished"] is not None and s.count() == 0
    pub = s.public(job)
    assert pub["state"] == "done" and pub["expires"] and "options" not in pub
    assert s.delete(jid) and s.get(jid) is None and not s.update(jid, progress=1)


def test_upload_paths_are_job_ids_only(tmp_path):
    s = JobStore(tmp_path)
    jid = s.create(kind="image", name="../../etc/passwd")
    assert s.upload_path(jid) == tmp_path / "uploads" / jid
    with pytest.raises(ValueError):
        s.upload_path("../../etc/passwd")


def test_restart_reports_unfinished_jobs_interrupted_and_keeps_finished(tmp_path):
    s = JobStore(tmp_path)
    done = s.create(kind="image", name="a")
    s.update(done, state="done", result={"ok": True})
    running = s.create(kind="video", name="b")
    s.update(running, state="running")
    s.upload_path(running).write_bytes(b"x")
    s.close()
    s2 = JobStore(tmp_path)  # a new process
    assert s2.recover() == [running]
    assert s2.get(running)["state"] == "interrupted" and "submit" in s2.get(running)["error"]
    assert not s2.upload_path(running).exists()
    assert s2.get(done)["result"] == {"ok": True}


def test_retention_sweep(tmp_path):
    s = JobStore(tmp_path, retention_s=60)
    old = s.create(kind="image", name="a")
    s.update(old, state="done", finished=time.time() - 120)
    new = s.create(kind="image", name="b")
    s.update(new, state="done")
    queued = s.create(kind="image", name="c")
    (s.uploads / ("f" * 32)).write_bytes(b"orphan")
    assert s.sweep() == 1
    assert s.get(old) is None and s.get(new) and s.get(queued)
    assert not (s.uploads / ("f" * 32)).exists()
