"""A plain folder: the way to bring any other data.

Expected tree::

    ROOT/
      real/...                 images and/or videos, any depth
      fake/<source>/...        one folder per generator; files directly in fake/ get source "fake"

or the same split by folder: ``ROOT/{train,val,test}/{real,fake/<source>}/...``.
Each image is one sample (``video_id`` = its sample id), each video one row for
``fakescope data faces``. With ``frames_as_videos=true``, images in the same folder below
``real/`` or ``fake/<source>/`` are frames of one clip named by that folder.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fakescope.data.adapters._common import (
    MEDIA_SUFFIXES,
    frame_number,
    is_image,
    list_files,
    media_row,
    to_frame,
)
from fakescope.data.adapters.registry import register_layout
from fakescope.errors import DataError

SPLIT_DIRS = ("train", "val", "test")


def _truthy(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@register_layout("folder")
def index_folder(root: Path, *, name: str = "", frames_as_videos: bool = False) -> pd.DataFrame:
    """Plain folder: real/ and fake/<source>/ (optionally under train/val/test/).

    Options: name (dataset name used as the id prefix; default the folder's name),
    frames_as_videos (true: images sharing a folder are frames of one clip).
    """
    name = name or root.name
    split_roots = [(s, root / s) for s in SPLIT_DIRS if (root / s).is_dir()]
    if not split_roots:
        split_roots = [("", root)]
    rows: list[dict] = []
    for split, sroot in split_roots:
        if not (sroot / "real").is_dir() and not (sroot / "fake").is_dir():
            raise DataError("expected folder not found (real/ or fake/<source>/)",
                            path=sroot / "real")
        prefix = f"{name}/{split}" if split else name
        for label, sub in ((0, sroot / "real"), (1, sroot / "fake")):
            if not sub.is_dir():
                continue
            for f in list_files(sub, MEDIA_SUFFIXES, recursive=True):
                rel = f.relative_to(sub)
                source = "real" if label == 0 else (rel.parts[0] if len(rel.parts) > 1 else "fake")
                sid = f"{prefix}/{sub.name}/{rel.as_posix()}"
                vid, frame = sid, 0
                if _truthy(frames_as_videos) and is_image(f) and len(rel.parts) > 1 + label:
                    vid = f"{prefix}/{sub.name}/{rel.parent.as_posix()}"
                    frame = frame_number(f, 0)
                rows.append(media_row(f, sample_id=sid, label=label, source=source,
                                      video_id=vid, frame=frame, split=split, dataset=name))
    return to_frame(rows, origin=str(root))
