"""The Ray backend against the local one on one 2-CPU Ray instance (module-scoped): the same
faces manifest and crops, the same scores table, and tasks killed mid-run retried without a
duplicate or lost row."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pandas as pd
import pytest

from fakescope.backends import Backend, WorkerSetupError, run_tasks
from fakescope.data.face_extraction import extract_faces
from fakescope.data.manifest import read_manifest
from fakescope.train.run import load_run, score
from fakescope.train.score_tasks import score_rows
from tests._dummies.faces import BlobDetector, DyingBlobDetector, face_media
from tests._dummies.workers import BadSetup, DieOnce

ray = pytest.importorskip("ray", reason="the ray extra is not installed")

RAY2 = Backend("ray", workers=2)


@pytest.fixture(scope="module", autouse=True)
def ray_instance():
    tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths are limited
    path = os.pathsep.join(p for p in sys.path if p)  # workers import tests._dummies
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=tmp, logging_level="ERROR",
             log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield
    ray.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)


def test_faces_match_the_local_backend_with_a_task_killed_mid_run(tmp_path):
    media = face_media(tmp_path / "media")
    kw = {"frames_per_video": 3, "policy": "all", "size": 32}
    local = extract_faces(media, tmp_path / "local", detector=BlobDetector(), **kw)
    remote = extract_faces(media, tmp_path / "ray", detector=DyingBlobDetector(tmp_path),
                           backend=RAY2, **kw)
    assert (tmp_path / "killed").is_file()  # one Ray worker died in a task; Ray ran it again
    for name in ("faces.csv", "skipped.csv"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    faces = read_manifest(tmp_path / "local" / "faces.csv")
    assert len(faces) == 8 and not faces["sample_id"].duplicated().any()
    for rel in faces["path"]:
        assert (tmp_path / "ray" / rel).read_bytes() == (tmp_path / "local" / rel).read_bytes()
    assert (remote.processed, remote.crops, remote.skipped_by_reason) == \
        (local.processed, local.crops, local.skipped_by_reason)


def test_scores_table_matches_the_local_backend(toy_manifest, toy_checkpoint, tmp_path):
    run = load_run(toy_checkpoint / "best")
    rows = read_manifest(toy_manifest)
    whole = score(run, rows, batch_size=8)
    table = score_rows(run, rows, backend=RAY2, batch_size=8, chunk_rows=24,
                       parts=tmp_path / "parts")
    pd.testing.assert_frame_equal(table, whole, check_exact=True)
    assert len(table) == len(rows) and not (tmp_path / "parts").exists()


def test_killed_tasks_are_rerun_once_each_and_setup_errors_stop_the_batch(tmp_path):
    out = list(run_tasks(DieOnce(tmp_path, 3), list(range(8)), backend=RAY2,
                         on_failure=lambda t, m: ("failed", t, m)))
    assert sorted(i for i, _ in out) == list(range(8))
    assert sorted(r for _, r in out) == list(range(8))
    assert (tmp_path / "died-3").is_file()
    with pytest.raises(WorkerSetupError, match="no model here"):
        list(run_tasks(BadSetup(), [1, 2], backend=RAY2, on_failure=lambda t, m: m))


def test_evaluate_command_writes_the_same_scores_file(toy_manifest, toy_checkpoint, tmp_path):
    from typer.testing import CliRunner

    from fakescope.cli.main import app

    base = ["evaluate", "--model", str(toy_checkpoint / "best"), "--manifest", str(toy_manifest),
            "--split", "all", "--batch-size", "8", "--bootstrap", "0"]
    for name, extra in (("local.csv", []), ("ray.csv", ["--backend", "ray", "--workers", "2"])):
        res = CliRunner().invoke(app, [*base, "--out", str(tmp_path / name), *extra])
        assert res.exit_code == 0, res.output
    assert (tmp_path / "ray.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


def test_detect_tasks_give_the_session_results_in_input_order(toy_manifest, toy_checkpoint,
                                                              tmp_path):
    from fakescope.detect import DetectSession, iter_detect_tasks

    rows = read_manifest(toy_manifest)
    files = [str(toy_manifest.parent / p) for p in rows["path"][:7]]
    (tmp_path / "bad.png").write_bytes(b"not a png")
    files.insert(3, str(tmp_path / "bad.png"))
    ckpt = toy_checkpoint / "best"
    local = list(DetectSession.load(ckpt, faces="none", batch_size=4).iter_detect(files))
    remote = list(iter_detect_tasks(files, ckpt, backend=RAY2, chunk_files=3, faces="none",
                                    batch_size=4))
    assert [r["path"] for r in remote] == files
    assert remote[3]["reason"] == local[3]["reason"] == "unreadable"
    for a, b in zip(remote, local, strict=True):
        assert a.keys() == b.keys() and a["verdict"] == b["verdict"]
        if "p_fake" in b:
            assert a["p_fake"] == pytest.approx(b["p_fake"], abs=1e-6)
