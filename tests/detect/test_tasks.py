"""Detection in tasks on the local backend: chunking and the CLI's --workers."""

from __future__ import annotations

import json

import pytest

from fakescope.backends import Backend
from fakescope.detect import DetectSession, iter_detect_tasks
from fakescope.detect.inputs import MediaInput
from fakescope.detect.tasks import chunk_inputs
from fakescope.errors import ConfigError


def test_chunks_keep_order_and_put_a_shared_stem_in_one_chunk():
    names = ["a/x.png", "b.png", "c.png", "d/x.jpg", "e.png", "f.png"]
    chunks = chunk_inputs([MediaInput(n) for n in names], 2)
    got = [[i for i, _ in c] for c in chunks]
    assert got == [[0, 1, 3], [2, 4], [5]]


def test_two_local_workers_match_one_session(toy_manifest, toy_checkpoint, tmp_path):
    from fakescope.data.manifest import read_manifest

    rows = read_manifest(toy_manifest)
    files = [str(toy_manifest.parent / p) for p in rows["path"][:5]]
    ckpt = toy_checkpoint / "best"
    local = list(DetectSession.load(ckpt, faces="none").iter_detect(files))
    pool = list(iter_detect_tasks(files, ckpt, backend=Backend("local", 2), chunk_files=2,
                                  faces="none"))
    assert [r["path"] for r in pool] == files
    for a, b in zip(pool, local, strict=True):
        assert a["verdict"] == b["verdict"]
        assert a["p_fake"] == pytest.approx(b["p_fake"], abs=1e-6)
    with pytest.raises(ConfigError, match="in-memory inputs"):
        list(iter_detect_tasks([b"\x89PNG"], ckpt, backend=Backend("local", 2)))


def test_cli_detect_with_workers(toy_manifest, toy_checkpoint, capsys):
    from fakescope.cli.main import main
    from fakescope.data.manifest import read_manifest

    rows = read_manifest(toy_manifest)
    files = [str(toy_manifest.parent / p) for p in rows["path"][:3]]
    with pytest.raises(SystemExit) as ex:
        main(["detect", *files, "--model", str(toy_checkpoint / "best"), "--jsonl", "--faces",
              "none", "--workers", "2"])
    assert ex.value.code in (0, None)
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["path"] for r in out] == files
