"""DFDC (Deepfake Detection Challenge) parts.

Expected tree (as distributed)::

    ROOT/
      dfdc_train_part_0/metadata.json  + <clip>.mp4 ...
      dfdc_train_part_1/metadata.json  + ...
      test/labels.csv + test/videos/<clip>.mp4   (optional: the public test set, "filename,label")

``metadata.json`` maps ``"<clip>.mp4"`` to ``{"label": "REAL"|"FAKE", "split": "train",
"original": "<clip>.mp4"}``. ROOT may also be a single part folder. DFDC names no generator,
so fakes get ``source="DFDC"``; ``original_video_id`` links a fake to its real clip. DFDC
names no people either: ``identity`` is the original clip's id, a proxy that keeps a real clip
and its fakes together when splitting. ``pair_id`` (the key of ``data.sampler=paired``) is a
real's own ``video_id`` and a fake's ``original_video_id`` ("" when unknown, as in labels.csv).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from fakescope.data.adapters._common import media_row, to_frame
from fakescope.data.adapters.registry import register_layout
from fakescope.errors import DataError

LABELS = {"REAL": 0, "FAKE": 1, "0": 0, "1": 1}


def _parts(root: Path) -> list[Path]:
    if (root / "metadata.json").is_file() or (root / "labels.csv").is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and (
        (p / "metadata.json").is_file() or (p / "labels.csv").is_file()))


def _video_dir(part: Path) -> Path:
    return part / "videos" if (part / "videos").is_dir() else part


@register_layout("dfdc")
def index_dfdc(root: Path, *, split: str | None = None) -> pd.DataFrame:
    """DFDC: part folders with metadata.json (label, original), or a test folder with labels.csv.

    Options: split (force one split for every row; default: metadata's ``split`` field, and
    ``test`` for labels.csv parts).
    """
    parts = _parts(root)
    if not parts:
        raise DataError("no DFDC part found", path=root / "dfdc_train_part_0" / "metadata.json",
                        hint="ROOT must hold part folders with metadata.json (or labels.csv)")
    rows = []
    for part in parts:
        if (part / "metadata.json").is_file():
            entries = _read_metadata(part / "metadata.json")
        else:
            entries = _read_labels_csv(part / "labels.csv")
        vdir = _video_dir(part)
        for name, label, sp, original in entries:
            stem = Path(name).stem
            orig = Path(original).stem if original else ""
            vid = f"dfdc/{stem}"
            orig_vid = f"dfdc/{orig}" if orig else ""
            rows.append(media_row(vdir / name, sample_id=vid, label=label,
                                  source="real" if label == 0 else "DFDC", video_id=vid,
                                  identity=orig or (stem if label == 0 else ""),
                                  split=split if split is not None else sp,
                                  original_video_id=orig_vid, part=part.name, dataset="dfdc",
                                  pair_id=vid if label == 0 else orig_vid))
    return to_frame(rows, origin=str(root))


def _label(value, path: Path, name: str) -> int:
    key = str(value).strip().upper()
    if key not in LABELS:
        raise DataError(f"entry {name!r}: label {value!r} is not REAL/FAKE", path=path)
    return LABELS[key]


def _read_metadata(path: Path) -> list[tuple[str, int, str, str]]:
    try:
        meta = json.loads(path.read_text())
    except ValueError as exc:
        raise DataError(f"not valid JSON: {exc}", path=path) from exc
    if not isinstance(meta, dict):
        raise DataError("expected an object {\"clip.mp4\": {\"label\": ...}}", path=path)
    out = []
    for name, info in sorted(meta.items()):
        if not isinstance(info, dict) or "label" not in info:
            raise DataError(f"entry {name!r} has no label", path=path)
        sp = str(info.get("split", "")).lower()
        sp = {"validation": "val"}.get(sp, sp)
        out.append((name, _label(info["label"], path, name),
                    sp if sp in ("train", "val", "test") else "", info.get("original") or ""))
    return out


def _read_labels_csv(path: Path) -> list[tuple[str, int, str, str]]:
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"filename", "label"} <= set(reader.fieldnames):
            raise DataError("expected columns filename,label", path=path)
        return [(r["filename"], _label(r["label"], path, r["filename"]), "test", "")
                for r in reader]
