"""Scoring in chunks as tasks: the same table as one score() call, resumable parts."""

from __future__ import annotations

import pandas as pd
import pytest

from fakescope.backends import Backend
from fakescope.data.manifest import read_manifest
from fakescope.train.run import load_run, score
from fakescope.train.score_tasks import score_rows


@pytest.fixture(scope="module")
def scored(toy_manifest, toy_checkpoint):
    run = load_run(toy_checkpoint / "best")
    rows = read_manifest(toy_manifest)
    return run, rows, score(run, rows, batch_size=8)


@pytest.mark.parametrize("workers", [1, 2])
def test_chunks_on_the_local_backend_equal_one_score_call(scored, workers, tmp_path):
    run, rows, whole = scored
    table = score_rows(run, rows, backend=Backend("local", workers), batch_size=8,
                       chunk_rows=20, parts=tmp_path / "parts")  # 24-row chunks (x8)
    pd.testing.assert_frame_equal(table, whole, check_exact=True)
    assert table.attrs["skipped"] == whole.attrs["skipped"] == {}
    assert not (tmp_path / "parts").exists()


def test_parts_resume_and_skipped_rows_keep_their_positions(scored, tmp_path):
    run, rows, _ = scored
    rows = rows.copy()
    rows.loc[[3, 50], "path"] = ["missing.png", "gone.png"]
    expect = score(run, rows, batch_size=8)
    parts = tmp_path / "parts"
    first = score_rows(run, rows, batch_size=8, chunk_rows=16, parts=parts)
    pd.testing.assert_frame_equal(first, expect, check_exact=True)
    assert sorted(first.attrs["skipped"]) == sorted(expect.attrs["skipped"]) == [3, 50]
    # an interrupted run: chunks 0 and 2 were written, the rest is scored on resume
    from fakescope.train.score_tasks import _key, _open_parts, _write_part

    key = _key(run, rows.reset_index(drop=True), "none", 16, 0, 8, 16)
    _open_parts(parts, key)
    marked = expect[expect["row"] < 16].copy()
    marked["p_fake"] = 0.5  # tells whether the part was reused
    _write_part(parts, 0, marked, {3: "x"})
    again = score_rows(run, rows, batch_size=8, chunk_rows=16, parts=parts)
    assert (again["p_fake"][again["row"] < 16] == 0.5).all()
    assert again.attrs["skipped"][3] == "x"
    pd.testing.assert_frame_equal(again[again["row"] >= 16], expect[expect["row"] >= 16],
                                  check_exact=True)
