"""A map detector's data: from a video manifest to per-window signal-map datasets.

The map detectors (:data:`MAP_DETECTORS`: ``ppg_map``, ``motion_map``; :mod:`fakescope.models.bio`)
read one map per window of a clip, not images. :func:`prepare_maps` turns clips into maps,
resumably, in two caches:

1. the signals (:func:`fakescope.signals.pipeline.extract_signals` with ``data.landmarks``,
   ``data.flow`` and ``data.signal_workers``) -> ``SIGNALS/clips/<key>.npz``;
2. the maps (:func:`fakescope.signals.map_cache.build_map_cache` with :func:`map_spec`) ->
   ``MAPS/<key>.npz`` ``(N, 3, w, 64)``, and :func:`~fakescope.signals.map_cache.cache_index`:
   one row per window (the clip's manifest columns + ``window``, ``start``, ``map_path``).

A second run finds both caches filled and decodes nothing. A clip that fails (too short, face
lost, undecodable; see the two modules) is counted, logged, listed in the caches' ``errors.csv``
and left out; it is not fatal unless a whole split is left empty.

Folders (:func:`map_dirs`): ``data.signals_dir`` / ``data.map_cache`` when set (used as they are,
e.g. a folder ``fakescope data signals`` filled), else under the run folder::

    OUT/signals/<dataset>_<landmarks>_<flow>/
    OUT/maps/<dataset>_<landmarks>_<flow>_<kind>_w<window>_s<stride>/

``<dataset>`` is the manifest root's folder name and a hash of its absolute path: both caches
are keyed by ``sample_id``, and two benchmarks may reuse ids (SynthFaces does), so scoring
another manifest with a finished run gets its own folders. Explicit folders are checked
instead: a signals folder that holds another file under one of the rows' sample ids, or a map
cache filled from another signals folder (recorded in its ``signals_source.json``), is a
ConfigError naming both.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fakescope.config import TrainConfig
from fakescope.data.manifest import resolve_path, select_split, subset
from fakescope.data.signal_maps import SignalMapDataset
from fakescope.data.tables import read_table
from fakescope.errors import ConfigError, DataError
from fakescope.signals.map_cache import build_map_cache, cache_index
from fakescope.signals.maps import MapSpec, clip_maps
from fakescope.signals.pipeline import extract_signals

log = logging.getLogger(__name__)

#: Map detector name -> the kind of map it reads.
MAP_DETECTORS = {"ppg_map": "ppg", "motion_map": "motion"}
#: The file in a map cache that names the signals folder it was filled from.
SOURCE_FILE = "signals_source.json"


def is_map_detector(name: str | None) -> bool:
    """True for a detector that reads signal maps of clips (``ppg_map``, ``motion_map``)."""
    return name in MAP_DETECTORS


def map_spec(cfg: TrainConfig) -> MapSpec:
    """The :class:`~fakescope.signals.maps.MapSpec` of a map detector's config: its kind, and
    ``data.map_window`` / ``data.map_stride`` (grid 4 x 8, band 0.7-3 Hz: the defaults).
    ConfigError for a detector that reads no maps, or a motion map without flow."""
    name, d = cfg.model.name, cfg.data
    if not is_map_detector(name):
        raise ConfigError(f"{name!r} reads images, not signal maps",
                          hint=f"map detectors: {', '.join(MAP_DETECTORS)}")
    if MAP_DETECTORS[name] == "motion" and d.flow == "none":
        raise ConfigError("motion_map reads optical flow, but data.flow is none",
                          hint="set data.flow=farneback (or dis)")
    return MapSpec(MAP_DETECTORS[name], window=d.map_window, stride=d.map_stride).check()


def dataset_tag(rows: pd.DataFrame) -> str:
    """``<root folder name>-<8 hex of sha1(root)>`` of a manifest (its ``attrs["root"]``, else
    the working folder)."""
    root = Path(rows.attrs.get("root") or ".").resolve()
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", root.name) or "root"
    return f"{name}-{hashlib.sha1(str(root).encode()).hexdigest()[:8]}"


@dataclass
class MapDirs:
    """Where a map detector's caches live; ``explicit`` when the config named them."""

    signals: Path
    maps: Path
    explicit: bool = False


def map_dirs(cfg: TrainConfig, out: str | Path, rows: pd.DataFrame) -> MapDirs:
    """The signals folder and map cache of ``cfg`` for ``rows`` with run folder ``out`` (see
    the module doc)."""
    d, spec = cfg.data, map_spec(cfg)
    base = f"{dataset_tag(rows)}_{d.landmarks}_{d.flow}"
    signals = Path(d.signals_dir) if d.signals_dir else Path(out) / "signals" / base
    maps = (Path(d.map_cache) if d.map_cache else
            Path(out) / "maps" / f"{base}_{spec.kind}_w{spec.window}_s{spec.stride}")
    return MapDirs(signals, maps, bool(d.signals_dir or d.map_cache))


@dataclass
class PreparedMaps:
    """What :func:`prepare_maps` made: ``index`` (one row per window of the clips that gave
    maps, manifest order), ``failed`` {sample_id: error} of the clips that did not."""

    index: pd.DataFrame
    failed: dict[str, str] = field(default_factory=dict)
    dirs: MapDirs | None = None


def _check_signal_paths(rows: pd.DataFrame, folder: Path) -> None:
    """ConfigError when ``folder`` holds another file's signals under a sample id of ``rows``."""
    want = {str(s): str(resolve_path(rows, str(p))) for s, p in zip(rows["sample_id"],
                                                                       rows["path"], strict=True)}
    for name in ("signals.csv", "errors.csv"):
        path = folder / name
        if not path.is_file():
            continue
        have = read_table(path, what="signals table", dtype={"sample_id": str, "path": str})
        if "path" not in have.columns or have.empty:
            continue
        for sid, p in zip(have["sample_id"].astype(str), have["path"].astype(str), strict=True):
            if sid in want and p and p != "nan" and Path(p) != Path(want[sid]):
                raise ConfigError(f"the signals folder holds another clip under sample id "
                                  f"{sid!r} ({p}; this manifest: {want[sid]})", path=folder,
                                  hint="set data.signals_dir and data.map_cache to new "
                                  "folders for this manifest")


def _claim_maps(maps: Path, signals: Path) -> None:
    """Record (or check) the signals folder a map cache is filled from."""
    src = str(signals.resolve())
    path = maps / SOURCE_FILE
    if path.is_file():
        old = json.loads(path.read_text()).get("signals_dir")
        if old != src:
            raise ConfigError(f"the map cache was filled from the signals in {old}, not {src}",
                              path=maps, hint="use another data.map_cache for these signals")
        return
    maps.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"signals_dir": src}))


def _signal_errors(folder: Path, ids: set[str]) -> dict[str, str]:
    """{sample_id: "FILE: error"} of the clips of ``ids`` the signals folder lists as failed."""
    path = folder / "errors.csv"
    if not path.is_file():
        return {}
    df = read_table(path, what="signals errors", dtype={"sample_id": str, "path": str})
    out = {}
    for row in df.to_dict("records"):
        sid, err, file = str(row.get("sample_id")), str(row.get("error")), row.get("path")
        if sid in ids:
            out[sid] = err if not isinstance(file, str) or file in err else f"{file}: {err}"
    return out


def prepare_maps(cfg: TrainConfig, rows: pd.DataFrame, out: str | Path, *,
                 say: Callable[[str], None] | None = None, backend=None) -> PreparedMaps:
    """Signals, then maps, of every clip of ``rows`` (a video manifest, columns ``sample_id``,
    ``path``, and ``landmarks_path`` with ``data.landmarks=manifest``) into the folders of
    :func:`map_dirs`; resumable. Failed clips are in ``failed`` and told to ``say``/the log.
    ``backend``: where the signals are extracted (a :class:`~fakescope.backends.Backend`;
    default: ``data.signal_workers`` local processes)."""
    spec = map_spec(cfg)
    d = cfg.data
    dirs = map_dirs(cfg, out, rows)
    if dirs.explicit:
        _check_signal_paths(rows, dirs.signals)
    progress = bool(cfg.train.progress)
    summary = extract_signals(rows, dirs.signals, workers=d.signal_workers,
                              landmarks=d.landmarks, flow=d.flow, progress=progress,
                              backend=backend)
    _check_signal_paths(rows, dirs.signals)
    ids = {str(s) for s in rows["sample_id"]}
    failed = _signal_errors(dirs.signals, ids)
    ok = subset(rows, ~rows["sample_id"].astype(str).isin(failed))
    if dirs.explicit:
        _claim_maps(dirs.maps, dirs.signals)
    built = build_map_cache(ok, dirs.signals, dirs.maps, spec, progress=progress)
    failed.update({str(s): str(e) for s, e in built.errors})
    index = cache_index(ok, dirs.maps)
    msg = (f"{spec.kind} maps: {len(ids) - len(failed)} of {len(ids)} clips, {len(index)} "
           f"windows (signals: {summary.done} new, {summary.skipped} cached; maps: "
           f"{built.done} new)")
    if failed:
        msg += (f"; {len(failed)} failed, left out (listed in {dirs.signals / 'errors.csv'} and "
                f"{dirs.maps / 'errors.csv'})")
    log.info(msg)
    if say:
        say(f"      {msg}")
    return PreparedMaps(index, failed, dirs)


def map_dataset(index: pd.DataFrame, *, target: str, class_names: list[str],
                group_column: str | None = None, group_names: list[str] | None = None,
                ) -> SignalMapDataset:
    """The :class:`~fakescope.data.signal_maps.SignalMapDataset` of the windows in ``index``
    (unreadable cache files are skipped and listed in its ``bad_items``)."""
    return SignalMapDataset(index, target=target, class_names=class_names,
                            group_column=group_column, group_names=group_names or None,
                            on_error="skip")


def split_datasets(cfg: TrainConfig, manifest: pd.DataFrame, out: str | Path, *,
                   class_names: list[str], group_names: list[str] | None = None,
                   say: Callable[[str], None] | None = None,
                   ) -> tuple[SignalMapDataset, SignalMapDataset]:
    """Train and validation map datasets of a video manifest (:func:`prepare_maps` on those
    two splits only; the test split is mapped when it is scored). DataError when a split has
    no window, with the first failed clip of that split."""
    d = cfg.data
    rows = subset(manifest, manifest["split"].isin((d.train_split, d.val_split)))
    prepared = prepare_maps(cfg, rows, out, say=say)
    out_sets = []
    for split in (d.train_split, d.val_split):
        part = select_split(prepared.index, split)
        if part.empty:
            ids = set(select_split(rows, split)["sample_id"].astype(str))
            bad = [(s, e) for s, e in prepared.failed.items() if s in ids]
            why = f"; {len(bad)} clip(s) failed, e.g. {bad[0][0]}: {bad[0][1]}" if bad else ""
            raise DataError(f"no clip of the {split!r} split gave a signal map{why}",
                            path=manifest.attrs.get("origin"))
        out_sets.append(map_dataset(part, target=d.target, class_names=class_names,
                                    group_column=d.group_column, group_names=group_names))
    return out_sets[0], out_sets[1]


def video_maps(path: str | Path, spec: MapSpec, *, detector="hog", flow: str = "farneback"):
    """Maps ``(N, 3, w, 2C)`` float32 and window starts ``(N,)`` of one video file: its signals
    with the face detected and tracked (``detector``: ``"hog"``/``"cnn"``; no ground truth),
    optical flow only for motion maps. DataError naming the file: undecodable, shorter than
    rPPG's 4 s or one window, or the face lost in too many frames."""
    from fakescope.signals.pipeline import clip_signals

    path = Path(path)
    sig = clip_signals(path, detector=detector, methods=("pos",),
                       flow=flow if spec.kind == "motion" else "none")
    try:
        return clip_maps(sig.arrays(), spec)
    except DataError as exc:
        raise DataError(exc.problem, path=path, hint=exc.hint) from exc
