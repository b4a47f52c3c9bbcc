"""Reading and writing the project's tables (manifests, scores, attributes): CSV or Parquet.

The format follows the suffix (``.parquet``/``.pq`` or anything else as CSV). Writes are atomic
(a temporary file renamed into place), so an interrupted job never leaves half a table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fakescope.errors import DataError

PARQUET_SUFFIXES = (".parquet", ".pq")


def read_table(path: str | Path, *, what: str, dtype: dict | None = None, **csv_options) -> pd.DataFrame:
    """Read a table; a missing or unreadable file is a DataError naming it (``what`` says which
    kind of table, e.g. ``"manifest"``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} not found", path=path)
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=dtype, **csv_options)
    except Exception as exc:  # pandas raises many types for malformed files
        raise DataError(f"cannot read {what}: {exc}", path=path) from exc


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a table atomically, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        df.to_parquet(tmp, index=False)
    else:
        df.to_csv(tmp, index=False)
    tmp.replace(path)
    return path
