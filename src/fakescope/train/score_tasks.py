"""Scoring spread over tasks: the scores table of many rows, chunk by chunk, on any backend.

    table = score_rows(run, rows, backend=Backend("ray"), parts="scores.csv.parts")

Rows are cut into consecutive chunks of ``chunk_rows`` (a multiple of the batch size, so every
forward pass sees the same images as one :func:`~fakescope.train.run.score` call over all
rows); each chunk is one task of a :class:`~fakescope.backends.Backend`, whose worker holds the
run's detector (sent once per process, on the GPU when the task was given one). Images are
streamed by each task's data loader; a task holds one chunk's scores, never its images.

Resumable: with ``parts``, each finished chunk is written there (``chunk-NNNNNN.parquet``, then
``chunk-NNNNNN.json`` with its skipped rows, the done marker) with ``key.json`` (run weights,
rows, method, chunking); a re-run reuses the chunks written for the same key. The table is the
chunks in row order, so it does not depend on the backend, the worker count or the order in
which chunks finished: for ``method="none"`` it equals :func:`~fakescope.train.run.score`'s.
With a stochastic method, chunk ``k`` draws its passes with seed ``seed + k``.
Map detectors (``ppg_map``, ``motion_map``) are scored in this process; the backend extracts
their clips' signals, the costly step.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pandas as pd

from fakescope.backends import Backend, run_tasks
from fakescope.data.manifest import fingerprint
from fakescope.errors import ConfigError, DataError
from fakescope.train.run import Run, score
from fakescope.train.signal_data import is_map_detector

KEY = "key.json"


class _ScoreWorker:
    """Scores one chunk of rows per task with the run's detector."""

    def __init__(self, run: Run, *, method: str, samples: int, seed: int, batch_size: int,
                 threads: int | None):
        self.run, self.method, self.samples, self.seed = run, method, samples, seed
        self.batch_size, self.threads = batch_size, threads

    def setup(self) -> None:
        import torch

        if self.threads:
            torch.set_num_threads(self.threads)
        run = copy.copy(self.run)
        run.config = copy.deepcopy(run.config)
        run.config.train.device = "auto"  # this process's GPU when it was given one
        run.config.data.num_workers = 0  # tasks are the parallelism (and pool workers are daemons)
        self.run = run

    def __call__(self, task: dict) -> dict:
        rows = task["rows"]
        try:
            table = score(self.run, rows, method=self.method, samples=self.samples,
                          seed=self.seed + task["chunk"], batch_size=self.batch_size)
        except DataError as exc:  # no readable image in this chunk: every row is skipped
            if not exc.problem.startswith("no readable image") or exc.__cause__ is None:
                raise
            reason = str(exc.__cause__)  # the loader's error for its first bad batch
            return {"chunk": task["chunk"], "table": None,
                    "skipped": dict.fromkeys(range(len(rows)), reason)}
        return {"chunk": task["chunk"], "table": table,
                "skipped": {int(k): v for k, v in table.attrs["skipped"].items()}}


def _chunk_failed(task: dict, message: str):
    start = task["start"]
    raise DataError(f"scoring rows {start}-{start + len(task['rows']) - 1} failed: {message}",
                    hint="finished chunks are kept with --out's parts; run the command again "
                    "to resume")


def _key(run: Run, rows: pd.DataFrame, method: str, samples: int, seed: int, batch_size: int,
         chunk_rows: int) -> dict:
    return {"run": run.fingerprint, "rows": fingerprint(rows, ["sample_id", "path", "label"]),
            "n_rows": len(rows), "method": method, "samples": samples if method != "none" else 1,
            "seed": seed, "batch_size": batch_size, "chunk_rows": chunk_rows}


def _open_parts(parts: Path, key: dict) -> set[int]:
    """Chunks already in ``parts`` for this key (a folder written for another key is cleared)."""
    kfile = parts / KEY
    if parts.is_dir() and kfile.is_file():
        try:
            same = json.loads(kfile.read_text()) == key
        except ValueError:
            same = False
        if same:
            return {int(f.stem.split("-")[1]) for f in parts.glob("chunk-*.json")}
    if parts.exists():
        if not parts.is_dir() or (any(parts.iterdir()) and not kfile.is_file()):
            raise ConfigError("the parts folder exists and was not written by scoring",
                              path=parts, hint="move it away or choose another --out")
        shutil.rmtree(parts)
    parts.mkdir(parents=True)
    kfile.write_text(json.dumps(key))
    return set()


def _write_part(parts: Path, chunk: int, table: pd.DataFrame | None, skipped: dict) -> None:
    stem = parts / f"chunk-{chunk:06d}"
    if table is not None:
        tmp = stem.with_name(stem.name + ".tmp.parquet")
        table.to_parquet(tmp, index=False)
        tmp.replace(stem.with_suffix(".parquet"))
    side = stem.with_name(stem.name + ".tmp.json")
    side.write_text(json.dumps({"skipped": skipped}))
    side.replace(stem.with_suffix(".json"))


def _read_part(parts: Path, chunk: int) -> tuple[pd.DataFrame | None, dict]:
    stem = parts / f"chunk-{chunk:06d}"
    skipped = json.loads(stem.with_suffix(".json").read_text())["skipped"]
    table = stem.with_suffix(".parquet")
    return (pd.read_parquet(table) if table.is_file() else None,
            {int(k): v for k, v in skipped.items()})


def score_rows(run: Run, rows: pd.DataFrame, *, backend: Backend | None = None,
               method: str = "none", samples: int = 16, seed: int = 0,
               batch_size: int | None = None, chunk_rows: int = 2048,
               parts: str | Path | None = None, progress: bool = False,
               log=None) -> pd.DataFrame:
    """The scores table of ``rows`` under ``run`` (see :func:`fakescope.train.run.score` for
    the columns and ``attrs["skipped"]``), its chunks scored as tasks of ``backend`` (module
    doc). ``chunk_rows`` is rounded up to a multiple of the batch size; ``parts``: a folder
    for finished chunks (resume), removed when the table is complete."""
    backend = backend or Backend()
    bs = int(batch_size or run.config.train.eval_batch_size)
    if bs < 1 or chunk_rows < 1:
        raise ConfigError(f"batch size {bs} and chunk rows {chunk_rows} must be >= 1")
    if is_map_detector(run.detector_name):
        return score(run, rows, method=method, samples=samples, seed=seed, batch_size=batch_size,
                     log=log, signals_backend=backend)
    rows = rows.reset_index(drop=True)
    chunk_rows = -(-chunk_rows // bs) * bs
    starts = list(range(0, len(rows), chunk_rows))
    parts = Path(parts) if parts is not None else None
    done = _open_parts(parts, _key(run, rows, method, samples, seed, bs, chunk_rows)) \
        if parts is not None else set()
    tasks = [{"chunk": k, "start": s, "rows": rows.iloc[s:s + chunk_rows]}
             for k, s in enumerate(starts) if k not in done]
    if log and done:
        log(f"      {parts}: {len(done)} of {len(starts)} chunks scored before, reused")
    worker = _ScoreWorker(run, method=method, samples=samples, seed=seed, batch_size=bs,
                          threads=None if backend.inline else 1)
    results: dict[int, tuple[pd.DataFrame, dict]] = {}
    for _, res in run_tasks(worker, tasks, backend=backend, on_failure=_chunk_failed,
                            uses_gpu=True, progress="score" if progress else None,
                            unit="chunk"):
        if parts is not None:
            _write_part(parts, res["chunk"], res["table"], res["skipped"])
        results[res["chunk"]] = (res["table"], res["skipped"])
    tables, skipped = [], {}
    for k, s in enumerate(starts):
        table, skip = results[k] if k in results else _read_part(parts, k)
        skipped.update({s + i: e for i, e in skip.items()})
        if table is not None:
            table = table.copy()
            table["row"] = table["row"].to_numpy() + s
            tables.append(table)
    if not tables:
        raise DataError(f"no readable image among {len(rows)} rows",
                        path=rows.attrs.get("origin"))
    out = pd.concat(tables, ignore_index=True)
    out.attrs["skipped"] = skipped
    out.attrs["class_names"] = list(run.class_names)
    if parts is not None:
        shutil.rmtree(parts)
    return out
