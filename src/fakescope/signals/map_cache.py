"""A resumable on-disk cache of signal maps, one file per clip, and its per-window index.

:func:`build_map_cache` turns the signal pipeline's clips (``SIGNALS/clips/<key>.npz``, see
:mod:`fakescope.signals.pipeline`) into maps (:func:`~fakescope.signals.maps.clip_maps`)::

    CACHE/spec.json        the MapSpec; a run with another spec is refused (ConfigError)
    CACHE/<key>.npz        maps (N, 3, w, 2C) float16, starts (N,) int64, spec (json str),
                           sample_id; written atomically, so a file present is a finished clip
    CACHE/errors.csv       sample_id, error of every clip that failed in the latest run

``<key>`` is :func:`~fakescope.data.face_extraction.item_key` of the sample id. A re-run skips
clips with a file; a failed clip (DataError: no signals file, a missing array, too short, no
window with a face) is counted and listed, gets no file and is retried on the next run, and
the batch goes on. Maps are stored as float16 (half the size; z-scores stay within
``sqrt(w)`` and spectra within [0, 1], far inside float16's range, at ~3 significant digits).

:func:`cache_index` lists the cached windows, one row per map, for
:class:`~fakescope.data.signal_maps.SignalMapDataset`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fakescope.data.face_extraction import _atomic_write_text, item_key
from fakescope.errors import ConfigError, DataError
from fakescope.signals.maps import MapSpec, clip_maps
from fakescope.signals.pipeline import save_npz

SPEC_FILE = "spec.json"
ERRORS_FILE = "errors.csv"
#: Columns cache_index adds to the manifest's.
INDEX_COLUMNS = ("window", "start", "map_path")


@dataclass
class MapCacheSummary:
    """Counts of one :func:`build_map_cache` run: ``done`` clips written now, ``skipped`` (a
    file from before), ``failed`` now; ``errors`` [(sample_id, message)]; ``errors_path``."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list = field(default_factory=list)
    errors_path: str = ""


def cache_file(cache_dir: str | Path, sample_id: str) -> Path:
    """``cache_dir/<item_key(sample_id)>.npz``."""
    return Path(cache_dir) / f"{item_key(str(sample_id))}.npz"


def signals_file(signals_dir: str | Path, sample_id: str) -> Path:
    """The signal pipeline's arrays of a clip: ``signals_dir/clips/<item_key>.npz``."""
    return Path(signals_dir) / "clips" / f"{item_key(str(sample_id))}.npz"


def read_cache_spec(cache_dir: str | Path) -> MapSpec | None:
    """The MapSpec recorded in ``cache_dir/spec.json`` (None when there is none)."""
    path = Path(cache_dir) / SPEC_FILE
    if not path.is_file():
        return None
    try:
        return MapSpec(**json.loads(path.read_text())).check()
    except (ValueError, TypeError) as exc:
        raise DataError(f"unreadable map spec ({exc})", path=path) from exc


def _claim(cache_dir: Path, spec: MapSpec) -> None:
    old = read_cache_spec(cache_dir)
    if old is None:
        _atomic_write_text(cache_dir / SPEC_FILE, json.dumps(spec.to_dict(), indent=1))
    elif old != spec:
        raise ConfigError(f"the cache holds maps of another spec {old.to_dict()} (this run: "
                          f"{spec.to_dict()})", path=cache_dir,
                          hint="use another cache folder for this spec")


def _one_clip(sample_id: str, signals_dir: Path, out: Path, spec: MapSpec) -> None:
    src = signals_file(signals_dir, sample_id)
    if not src.is_file():
        raise DataError("no signals file for this clip", path=src,
                        hint="extract the signals first; a clip that failed there is in the "
                        "signals folder's errors.csv")
    maps, starts = clip_maps(src, spec)
    save_npz(out, {"maps": maps.astype(np.float16), "starts": starts.astype(np.int64),
                   "spec": np.array(json.dumps(spec.to_dict())),
                   "sample_id": np.array(str(sample_id))})


def _sample_ids(manifest: pd.DataFrame) -> list[str]:
    if "sample_id" not in manifest.columns:
        raise DataError("the manifest needs a sample_id column",
                        path=manifest.attrs.get("origin", "<manifest>"))
    return [str(s) for s in manifest["sample_id"]]


def build_map_cache(manifest: pd.DataFrame, signals_dir: str | Path, cache_dir: str | Path,
                    spec: MapSpec, *, progress: bool = False) -> MapCacheSummary:
    """Maps of every clip of ``manifest`` (column ``sample_id``) from the signals in
    ``signals_dir`` into ``cache_dir`` (files in the module doc). Resumable; per-clip
    DataErrors are counted and listed in ``errors.csv``, the batch goes on."""
    spec.check()
    ids = _sample_ids(manifest)
    signals_dir, cache_dir = Path(signals_dir), Path(cache_dir)
    if cache_dir.exists() and not cache_dir.is_dir():
        raise ConfigError("the map cache folder is a file", path=cache_dir,
                          hint="choose a folder")
    cache_dir.mkdir(parents=True, exist_ok=True)
    _claim(cache_dir, spec)
    summary = MapCacheSummary()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(ids), unit="clip", desc=f"{spec.kind} maps")
    try:
        for sid in ids:
            out = cache_file(cache_dir, sid)
            if out.is_file():
                summary.skipped += 1
            else:
                try:
                    _one_clip(sid, signals_dir, out, spec)
                    summary.done += 1
                except DataError as exc:
                    summary.failed += 1
                    summary.errors.append((sid, str(exc)))
            if bar:
                bar.update()
    finally:
        if bar:
            bar.close()
        path = cache_dir / ERRORS_FILE
        errors = pd.DataFrame(summary.errors, columns=["sample_id", "error"])
        _atomic_write_text(path, errors.to_csv(index=False))
        summary.errors_path = str(path)
    return summary


def _starts(path: Path) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as data:
            return np.asarray(data["starts"], dtype=np.int64)
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"unreadable map cache file ({exc})", path=path,
                        hint="delete it and build the cache again") from exc


def cache_index(manifest: pd.DataFrame, cache_dir: str | Path) -> pd.DataFrame:
    """One row per cached map window: the clip's manifest columns, ``window`` (its index in the
    clip's file), ``start`` (first frame, or flow sample for motion maps) and ``map_path`` (the
    clip's cache file, absolute). Clips without a cache file are left out; manifest order."""
    ids = _sample_ids(manifest)
    cache_dir = Path(cache_dir).resolve()
    pos, windows, starts, paths = [], [], [], []
    for i, sid in enumerate(ids):
        path = cache_file(cache_dir, sid)
        if not path.is_file():
            continue
        s = _starts(path)
        pos.extend([i] * len(s))
        windows.append(np.arange(len(s), dtype=np.int64))
        starts.append(s)
        paths.extend([str(path)] * len(s))
    rows = manifest.iloc[pos].reset_index(drop=True)
    rows = rows.drop(columns=[c for c in INDEX_COLUMNS if c in rows.columns])
    rows["window"] = np.concatenate(windows) if windows else np.zeros(0, np.int64)
    rows["start"] = np.concatenate(starts) if starts else np.zeros(0, np.int64)
    rows["map_path"] = pd.Series(paths, dtype=object)
    rows.attrs = dict(manifest.attrs)
    return rows
