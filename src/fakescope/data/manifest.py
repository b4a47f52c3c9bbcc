"""The manifest: one row per sample, a typed table stored as CSV or Parquet.

Columns (``CORE_COLUMNS``):

============  ======  ==============================================================
sample_id     str     unique id of the sample
path          str     image path, relative to the manifest's folder or absolute
label         int     0 = real, 1 = fake (``"real"``/``"fake"`` are accepted on load)
source        str     generator / manipulation name; ``"real"`` for real samples
identity      str     identity of the (target) face, ``""`` if unknown
video_id      str     *globally unique* video id (method + clip), defaults to sample_id
frame         int     frame index in the video, 0 for still images
split         str     ``train`` / ``val`` / ``test`` or ``""``
============  ======  ==============================================================

Any other column is kept as is: demographic attributes (``gender``, ``race``, ...), ``domain``,
``mask_path``, ``landmarks_path``. Only ``sample_id``, ``path`` and ``label`` are required.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fakescope.data.tables import read_table, write_table
from fakescope.errors import DataError

CORE_COLUMNS: tuple[str, ...] = (
    "sample_id", "path", "label", "source", "identity", "video_id", "frame", "split",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("sample_id", "path", "label")
SPLITS: tuple[str, ...] = ("train", "val", "test", "")
LABEL_NAMES = {"real": 0, "fake": 1, "0": 0, "1": 1}


def _fail(origin: str, message: str, hint: str | None = None) -> DataError:
    return DataError(message, path=origin, hint=hint)


def parse_labels(values: pd.Series, *, origin: str) -> np.ndarray:
    """Map a label column (0/1 ints or ``real``/``fake`` strings) to ``int64`` 0/1.

    Raises DataError naming the first bad row (0-based data row, as in the file minus header).
    """
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values.tolist()):
        key = str(v).strip().lower()
        if key.endswith(".0"):
            key = key[:-2]
        if key not in LABEL_NAMES:
            raise _fail(origin, f"row {i}, column 'label': {v!r} is not a label",
                        "use 0/1 or real/fake")
        out[i] = LABEL_NAMES[key]
    return out


def validate_manifest(df: pd.DataFrame, *, origin: str = "<manifest>") -> pd.DataFrame:
    """Check and normalise a manifest table; returns a new DataFrame with every core column.

    Missing optional columns get defaults (``source`` = real/fake, ``video_id`` = sample_id,
    ``frame`` = 0, ``split`` = "", ``identity`` = ""). Raises DataError naming the bad row and
    column.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise _fail(origin, f"missing column(s) {', '.join(missing)}",
                    f"a manifest needs at least {', '.join(REQUIRED_COLUMNS)}")
    df = df.copy()
    df["label"] = parse_labels(df["label"], origin=origin)
    for col in ("sample_id", "path"):
        bad = df[col].isna() | (df[col].astype(str).str.strip() == "")
        if bad.any():
            raise _fail(origin, f"row {int(np.flatnonzero(bad.to_numpy())[0])}, column '{col}': empty")
        df[col] = df[col].astype(str)
    dup = df["sample_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise _fail(origin, f"row {i}, column 'sample_id': duplicate id {df['sample_id'].iloc[i]!r}")
    if "source" not in df.columns:
        df["source"] = np.where(df["label"] == 1, "fake", "real")
    df["source"] = df["source"].fillna("").astype(str)
    if "identity" not in df.columns:
        df["identity"] = ""
    df["identity"] = df["identity"].fillna("").astype(str)
    if "video_id" not in df.columns:
        df["video_id"] = df["sample_id"]
    df["video_id"] = df["video_id"].fillna("").astype(str)
    empty_vid = df["video_id"].str.strip() == ""
    df.loc[empty_vid, "video_id"] = df.loc[empty_vid, "sample_id"]
    if "frame" not in df.columns:
        df["frame"] = 0
    frame = pd.to_numeric(df["frame"], errors="coerce")
    if frame.isna().any():
        i = int(np.flatnonzero(frame.isna().to_numpy())[0])
        raise _fail(origin, f"row {i}, column 'frame': {df['frame'].iloc[i]!r} is not an integer")
    df["frame"] = frame.astype(np.int64)
    if "split" not in df.columns:
        df["split"] = ""
    df["split"] = df["split"].fillna("").astype(str).str.strip().str.lower()
    bad_split = ~df["split"].isin(SPLITS)
    if bad_split.any():
        i = int(np.flatnonzero(bad_split.to_numpy())[0])
        raise _fail(origin, f"row {i}, column 'split': {df['split'].iloc[i]!r} is not a split",
                    "use train, val, test or leave empty")
    ordered = list(CORE_COLUMNS) + [c for c in df.columns if c not in CORE_COLUMNS]
    df = df[ordered].reset_index(drop=True)
    df.attrs = {"origin": origin}
    return df


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Load and validate a manifest (``.csv`` or ``.parquet``).

    ``df.attrs["root"]`` is set to the manifest's folder: relative ``path`` values resolve
    against it (see :func:`resolve_path`).
    """
    path = Path(path)
    df = read_table(path, what="manifest",
                    dtype={"sample_id": str, "path": str, "identity": str, "video_id": str,
                           "split": str, "source": str},
                    keep_default_na=False, na_values=[""])
    df = validate_manifest(df, origin=str(path))
    df.attrs["root"] = str(path.parent.resolve())
    return df


def write_manifest(df: pd.DataFrame, path: str | Path) -> Path:
    """Validate and write a manifest; the format follows the suffix (``.csv`` or ``.parquet``)."""
    df = validate_manifest(df, origin=str(path))
    return write_table(df, path)


def resolve_path(df: pd.DataFrame, value: str) -> Path:
    """Absolute path of a manifest ``path`` value (relative values resolve at the manifest root)."""
    p = Path(value)
    if p.is_absolute():
        return p
    return Path(df.attrs.get("root", ".")) / p


def subset(df: pd.DataFrame, rows, *, reset_index: bool = True) -> pd.DataFrame:
    """The rows of a manifest selected by ``rows`` (a boolean mask, or index labels), keeping
    ``attrs`` (origin and root, so relative paths still resolve); index reset unless asked."""
    out = df[rows] if isinstance(rows, (pd.Series, np.ndarray)) else df.loc[rows]
    return like(out.reset_index(drop=True) if reset_index else out, df)


def like(new: pd.DataFrame, manifest: pd.DataFrame) -> pd.DataFrame:
    """``new`` (rows derived from ``manifest``, e.g. by ``pd.concat`` or ``sample``) with the
    manifest's ``attrs`` (origin and root)."""
    new.attrs = dict(manifest.attrs)
    return new


def select_split(df: pd.DataFrame, split: str) -> pd.DataFrame:
    """Rows of one split, keeping ``attrs`` (the root), index reset."""
    return subset(df, df["split"] == split)


def fingerprint(df: pd.DataFrame, columns: list[str] | tuple[str, ...]) -> str:
    """SHA-256 of ``columns`` of ``df``'s rows, order-free (rows sorted by ``sample_id``): two
    tables with the same samples, paths, labels and splits have the same fingerprint."""
    import hashlib

    cols = [c for c in dict.fromkeys(("sample_id", *columns)) if c in df.columns]
    table = df[cols].astype(str).sort_values("sample_id", kind="stable")
    return hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()
