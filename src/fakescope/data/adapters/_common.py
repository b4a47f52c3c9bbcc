"""Helpers shared by the dataset layouts: folder checks, media listing, row building."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from fakescope.data.images import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from fakescope.errors import DataError

MEDIA_SUFFIXES = IMAGE_SUFFIXES + VIDEO_SUFFIXES


def require_dir(path: Path, what: str, hint: str | None = None) -> Path:
    """Return ``path`` if it is a folder, else raise DataError naming the expected path."""
    if not path.is_dir():
        raise DataError(f"expected folder not found ({what})", path=path, hint=hint)
    return path


def require_file(path: Path, what: str, hint: str | None = None) -> Path:
    """Return ``path`` if it is a file, else raise DataError naming the expected path."""
    if not path.is_file():
        raise DataError(f"expected file not found ({what})", path=path, hint=hint)
    return path


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def list_files(folder: Path, suffixes: tuple[str, ...], *, recursive: bool = False) -> list[Path]:
    """Files in ``folder`` with one of ``suffixes`` (case-insensitive), sorted by path."""
    it = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in it if p.is_file() and p.suffix.lower() in suffixes
                  and not p.name.startswith("."))


def frame_number(path: Path, default: int) -> int:
    """Frame index from the last run of digits in a file stem (``0042.png`` -> 42)."""
    digits = re.findall(r"\d+", path.stem)
    return int(digits[-1]) if digits else default


def media_row(path: Path, *, sample_id: str, label: int, source: str, video_id: str,
              identity: str = "", frame: int = 0, split: str = "", **extra) -> dict:
    """One manifest row; ``media`` is ``video`` or ``image`` from the suffix."""
    return {"sample_id": sample_id, "path": str(path), "label": int(label), "source": source,
            "identity": identity, "video_id": video_id, "frame": int(frame), "split": split,
            "media": "video" if is_video(path) else "image", **extra}


def to_frame(rows: list[dict], *, origin: str) -> pd.DataFrame:
    """Rows -> DataFrame; an empty result is an error naming where nothing was found."""
    if not rows:
        raise DataError("no media files found", path=origin,
                        hint=f"expected videos ({', '.join(VIDEO_SUFFIXES)}) or images "
                        f"({', '.join(IMAGE_SUFFIXES)}) in the layout's folders")
    df = pd.DataFrame(rows)
    extra = [c for c in df.columns if df[c].dtype == object]
    df[extra] = df[extra].fillna("")
    return df


def as_list(value) -> list[str] | None:
    """Option value -> list of strings (``"a,b"`` and ``["a", "b"]`` alike); None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]
