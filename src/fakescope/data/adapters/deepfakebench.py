"""DeepfakeBench's dataset JSON files (``preprocessing/dataset_json/*.json``).

Structure (written by DeepfakeBench's ``rearrange.py``)::

    {"<dataset>": {"<label name>": {"train"|"val"|"test": {
         ["<compression>": ] {"<video>": {"label": "<label name>", "frames": [paths], ...}}}}}}

FF++ files have the compression level, other datasets do not. One row per listed frame.
A label name containing ``real`` (``FF-real``, ``CelebDFv2_real``, ``DFD_real``) is real, any
other is fake with ``source`` = the label name (override with ``real_labels``).
``video_id`` = ``<dataset>/<label name>/<video>``, so the same clip under two methods stays
two videos (DeepfakeBench keys videos by name alone). DeepfakeBench lists some videos under
several splits (DFD under all three; Celeb-DF's test videos under train too): the most held-out
wins (test > val > train), so no test video trains.

Frame paths are used as written when they exist; otherwise they are joined to ``data_root``
after removing ``strip_prefix`` (DeepfakeBench's JSONs often hold its authors' absolute paths).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from fakescope.data.adapters._common import as_list, frame_number, media_row, to_frame
from fakescope.data.adapters.registry import register_layout
from fakescope.errors import DataError

SPLIT_RANK = {"train": 0, "val": 1, "test": 2}


def _json_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    files = sorted(root.glob("*.json"))
    if not files:
        raise DataError("no DeepfakeBench JSON found", path=root / "<dataset>.json",
                        hint="point ROOT at a dataset JSON file or a folder of them")
    return files


def _videos(node: dict, compression: str | None):
    """Yield (video name, info) below a split node, with or without a compression level."""
    if not node:
        return
    first = next(iter(node.values()))
    if isinstance(first, dict) and "frames" in first:
        yield from node.items()
        return
    comps = sorted(node)
    pick = compression if compression in node else ("c23" if "c23" in node else comps[0])
    yield from node[pick].items()


@register_layout("deepfakebench")
def index_deepfakebench(root: Path, *, data_root: str | None = None, strip_prefix: str = "",
                        compression: str | None = None,
                        real_labels: str | list[str] | None = None) -> pd.DataFrame:
    """DeepfakeBench dataset JSON(s): one row per frame, unique video ids, held-out-first splits.

    Options: data_root (folder the frame paths are relative to; default the JSON's folder),
    strip_prefix (prefix to remove from absolute frame paths before joining data_root),
    compression (FF++ level to take, default c23), real_labels (comma list of label names that
    are real; default: names containing "real").
    """
    reals = set(as_list(real_labels) or [])
    best: dict[tuple[str, str], dict] = {}  # (video_id, frame path) -> row
    for jf in _json_files(root):
        try:
            data = json.loads(jf.read_text())
        except ValueError as exc:
            raise DataError(f"not valid JSON: {exc}", path=jf) from exc
        droot = Path(data_root).expanduser() if data_root else jf.parent
        for dataset, labels in data.items():
            for lname, splits in labels.items():
                is_real = lname in reals if reals else "real" in lname.lower()
                for split, node in splits.items():
                    if split not in SPLIT_RANK:
                        raise DataError(f"{dataset}/{lname}: unknown split {split!r}", path=jf)
                    for video, info in _videos(node, compression):
                        vid = f"{dataset}/{lname}/{video}"
                        for i, fp in enumerate(info.get("frames", [])):
                            path = _resolve(fp, droot, strip_prefix)
                            key = (vid, str(path))
                            old = best.get(key)
                            if old is not None and SPLIT_RANK[old["split"]] >= SPLIT_RANK[split]:
                                continue
                            n = frame_number(Path(fp), i)
                            best[key] = media_row(
                                path, sample_id=f"{vid}/{Path(fp).name}", label=0 if is_real else 1,
                                source="real" if is_real else lname, video_id=vid, frame=n,
                                split=split, dataset=dataset, dfb_label=lname)
    return to_frame(list(best.values()), origin=str(root))


def _resolve(fp: str, data_root: Path, strip_prefix: str) -> Path:
    p = Path(fp)
    if p.is_absolute() and p.exists():
        return p
    if strip_prefix and fp.startswith(strip_prefix):
        return (data_root / fp[len(strip_prefix):].lstrip("/")).resolve()
    return p if p.is_absolute() else (data_root / p).resolve()
