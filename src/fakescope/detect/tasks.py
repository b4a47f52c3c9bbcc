"""Batch detection as tasks of a backend (local processes or a Ray cluster), results streamed
in input order.

    for result in iter_detect_tasks(["photos/", "clips/"], "runs/r18/best",
                                    backend=Backend("ray", address="auto")):
        ...                             # the same dicts as DetectSession.iter_detect, in order

Inputs (paths and folders) are expanded here, then cut into chunks of ``chunk_files`` files;
each chunk is one task whose worker holds a :class:`~fakescope.detect.session.DetectSession`
(checkpoints loaded once per process, on the GPU Ray gave the task when the cluster has GPUs).
Files that share a name stem go to the same chunk, so overlay maps (``map_dir``) get the names
one session would give them. A result is the one a single session gives for the file; its
``p_fake`` can differ in the last bits, because faces are batched with other files of the
chunk. A chunk whose task raised, or whose process kept dying, gives each of its files a
``"worker_failed"`` result. Detection writes nothing but overlays, so there is no resume.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from fakescope.backends import Backend, run_tasks
from fakescope.detect import schema
from fakescope.detect.inputs import MediaInput, expand_inputs
from fakescope.detect.session import DetectOptions, DetectSession
from fakescope.errors import ConfigError


class _DetectWorker:
    """Scores one chunk of files per task with a session loaded once per process."""

    def __init__(self, checkpoints: list[str], options: DetectOptions, face_detector,
                 threads: int | None):
        self.checkpoints, self.options = checkpoints, options
        self.face_detector, self.threads = face_detector, threads
        self.session = None

    def __getstate__(self):
        return {**self.__dict__, "session": None}

    def setup(self) -> None:
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        self.session = DetectSession.load(self.checkpoints, self.options, device="auto",
                                          face_detector=self.face_detector)

    def __call__(self, task: dict) -> list[tuple[int, dict]]:
        results = self.session.iter_detect([inp for _, inp in task["inputs"]])
        return [(i, r) for (i, _), r in zip(task["inputs"], results, strict=True)]


def chunk_inputs(inputs: list[MediaInput], chunk_files: int) -> list[list[tuple[int, MediaInput]]]:
    """Consecutive chunks of at most ``chunk_files`` inputs, except that an input whose name
    stem an earlier input has joins that input's chunk (unique overlay names per chunk)."""
    chunks: list[list[tuple[int, MediaInput]]] = []
    of_stem: dict[str, int] = {}
    for i, inp in enumerate(inputs):
        stem = Path(inp.name).stem
        k = of_stem.get(stem)
        if k is None:
            if not chunks or len(chunks[-1]) >= chunk_files:
                chunks.append([])
            k = of_stem[stem] = len(chunks) - 1
        chunks[k].append((i, inp))
    return chunks


def _failed(task: dict, message: str) -> list[tuple[int, dict]]:
    return [(i, schema.not_scored(inp.name, inp.kind, f"the task scoring this file failed: "
                                  f"{message}", "worker_failed")) for i, inp in task["inputs"]]


def iter_detect_tasks(inputs, checkpoints, options: DetectOptions | None = None, *,
                      backend: Backend, chunk_files: int = 64, face_detector=None,
                      **overrides) -> Iterator[dict]:
    """Results of ``inputs`` (paths and folders; bytes belong to a session) scored in tasks
    of ``backend``, yielded in input order as soon as the chunks before are done."""
    if chunk_files < 1:
        raise ConfigError(f"chunk_files={chunk_files}", hint="use 1 or more")
    opts = dataclasses.replace(options or DetectOptions(), **overrides).check()
    items = expand_inputs(inputs)
    if any(inp.data is not None for inp in items):
        raise ConfigError("in-memory inputs cannot be sent to a backend",
                          hint="score bytes with a DetectSession in this process")
    paths = [str(c) for c in (checkpoints if isinstance(checkpoints, (list, tuple))
                              else [checkpoints])]
    worker = _DetectWorker(paths, opts, face_detector, None if backend.inline else 1)
    tasks = [{"inputs": chunk} for chunk in chunk_inputs(items, chunk_files)]
    ready: dict[int, dict] = {}
    nxt = 0
    for _, results in run_tasks(worker, tasks, backend=backend, on_failure=_failed,
                                uses_gpu=True):
        ready.update(results)
        while nxt in ready:
            yield ready.pop(nxt)
            nxt += 1
