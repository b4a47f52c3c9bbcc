"""Demographic attributes: read them from a CSV and join them into a manifest or scores table.

Two layouts are understood:

* **readable columns** (``gender``, ``race``, ``age``, ``skin_tone`` ... any names): copied as
  they are;
* **PG-FDD / AI-Face layout**: 0/1 columns ``ismale``, ``isasian``, ``iswhite``, ``isblack`` and
  ``intersec_label`` (0..7). They are mapped to readable ``gender`` and ``race`` columns:

  ==============  =======  ======  ===============  =======  ======
  intersec_label  gender   race    intersec_label   gender   race
  ==============  =======  ======  ===============  =======  ======
  0               male     asian   4                female   asian
  1               male     white   5                female   white
  2               male     black   6                female   black
  3               male     others  7                female   others
  ==============  =======  ======  ===============  =======  ======

  i.e. ``intersec_label = 4 * (1 - ismale) + race_index`` with race order (asian, white, black,
  others); ``others`` is the race when none of ``isasian/iswhite/isblack`` is 1. The one-hot
  columns win when both are present; a row where they disagree with ``intersec_label`` is an
  error (pass ``intersec_mapping`` for a dataset that numbers the eight groups differently).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fakescope.data.tables import read_table
from fakescope.errors import DataError

RACES = ("asian", "white", "black", "others")
GENDERS = ("male", "female")
PGFDD_INTERSEC: dict[int, tuple[str, str]] = {
    4 * gi + ri: (g, r) for gi, g in enumerate(GENDERS) for ri, r in enumerate(RACES)
}
PGFDD_COLUMNS = ("ismale", "isasian", "iswhite", "isblack", "intersec_label")
JOIN_KEYS = ("sample_id", "video_id")


def _binary(df: pd.DataFrame, col: str, origin: str) -> np.ndarray:
    v = pd.to_numeric(df[col], errors="coerce")
    bad = v.isna() | ~v.isin((0, 1))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"row {i}, column {col!r}: {df[col].iloc[i]!r} is not 0 or 1",
                        path=origin)
    return v.to_numpy().astype(np.int64)


def map_pgfdd(df: pd.DataFrame, *, origin: str = "<attributes>",
              intersec_mapping: dict[int, tuple[str, str]] | None = None) -> pd.DataFrame:
    """Add readable ``gender``, ``race`` and ``gender_race`` columns from the PG-FDD layout.

    Uses ``ismale`` + ``isasian/iswhite/isblack`` when present, else ``intersec_label`` through
    ``intersec_mapping`` (default :data:`PGFDD_INTERSEC`). The original columns are kept.
    """
    mapping = PGFDD_INTERSEC if intersec_mapping is None else intersec_mapping
    df = df.copy()
    onehot = ("ismale", "isasian", "iswhite", "isblack")
    have_onehot = all(c in df.columns for c in onehot)
    if have_onehot:
        male = _binary(df, "ismale", origin)
        race_bits = np.stack([_binary(df, c, origin) for c in onehot[1:]], axis=1)
        multi = race_bits.sum(axis=1) > 1
        if multi.any():
            i = int(np.flatnonzero(multi)[0])
            raise DataError(f"row {i}: more than one of isasian/iswhite/isblack is 1",
                            path=origin)
        race_idx = np.where(race_bits.any(axis=1), race_bits.argmax(axis=1), 3)
        gender = np.where(male == 1, "male", "female")
        race = np.asarray(RACES)[race_idx]
        if "intersec_label" in df.columns:
            inter = pd.to_numeric(df["intersec_label"], errors="coerce")
            expected = [mapping.get(int(k), (None, None)) if pd.notna(k) else (None, None)
                        for k in inter]
            for i, (g, r) in enumerate(expected):
                if (g, r) != (gender[i], race[i]):
                    raise DataError(
                        f"row {i}: intersec_label {df['intersec_label'].iloc[i]!r} means {g}/{r} "
                        f"but the one-hot columns say {gender[i]}/{race[i]}", path=origin,
                        hint="pass intersec_mapping for this dataset's numbering, or drop "
                        "intersec_label")
    elif "intersec_label" in df.columns:
        inter = pd.to_numeric(df["intersec_label"], errors="coerce")
        bad = inter.isna() | ~inter.isin(list(mapping))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"row {i}, column 'intersec_label': "
                            f"{df['intersec_label'].iloc[i]!r} is not one of "
                            f"{sorted(mapping)}", path=origin)
        pairs = [mapping[int(k)] for k in inter]
        gender = np.array([p[0] for p in pairs], dtype=object)
        race = np.array([p[1] for p in pairs], dtype=object)
    else:
        raise DataError("no PG-FDD columns", path=origin,
                        hint=f"expected {', '.join(PGFDD_COLUMNS)}")
    df["gender"] = gender
    df["race"] = race
    df["gender_race"] = [f"{g}-{r}" for g, r in zip(gender, race, strict=True)]
    return df


def is_pgfdd(df: pd.DataFrame) -> bool:
    """True when the table has the PG-FDD attribute columns (``intersec_label`` or the one-hots)."""
    return "intersec_label" in df.columns or all(
        c in df.columns for c in ("ismale", "isasian", "iswhite", "isblack"))


def read_attributes(path: str | Path) -> pd.DataFrame:
    """Read an attribute CSV (or Parquet); the PG-FDD layout gets readable columns added.

    Ids (``sample_id``, ``video_id``) are read as strings. Raises DataError naming the file.
    """
    path = Path(path)
    df = read_table(path, what="attribute file", dtype={k: str for k in JOIN_KEYS})
    if df.empty:
        raise DataError("attribute file has no rows", path=path)
    if is_pgfdd(df):
        df = map_pgfdd(df, origin=str(path))
    df.attrs = {"origin": str(path)}
    return df


def join_attributes(table: pd.DataFrame, attributes: pd.DataFrame | str | Path, *,
                    on: str = "sample_id", columns: list[str] | None = None,
                    how_missing: str = "keep") -> pd.DataFrame:
    """Join attribute columns into a manifest or scores table on ``sample_id`` or ``video_id``.

    Args:
        table: manifest or scores table (must have the ``on`` column).
        attributes: a table or a path for :func:`read_attributes`.
        on: join key, ``"sample_id"`` or ``"video_id"`` (one attribute row per video then
            applies to all its frames).
        columns: attribute columns to bring (default: every column except the keys).
        how_missing: ``"keep"`` leaves NaN for rows without attributes (the audit then counts
            them as missing); ``"error"`` raises DataError naming the first such row.

    Returns a new table, same rows and order; attribute columns replace same-named columns.
    """
    if on not in JOIN_KEYS:
        raise DataError(f"cannot join on {on!r}", hint=f"use one of {', '.join(JOIN_KEYS)}")
    if how_missing not in ("keep", "error"):
        raise DataError(f"how_missing {how_missing!r} must be 'keep' or 'error'")
    if not isinstance(attributes, pd.DataFrame):
        attributes = read_attributes(attributes)
    a_origin = attributes.attrs.get("origin", "<attributes>")
    t_origin = table.attrs.get("origin", "<table>")
    if on not in attributes.columns:
        raise DataError(f"no {on!r} column to join on", path=a_origin,
                        hint=f"columns are {', '.join(map(str, attributes.columns))}")
    if on not in table.columns:
        raise DataError(f"no {on!r} column to join on", path=t_origin)
    attrs = attributes.copy()
    attrs[on] = attrs[on].astype(str)
    dup = attrs[on].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(f"row {i}, column {on!r}: duplicate id {attrs[on].iloc[i]!r}",
                        path=a_origin, hint="one attribute row per id")
    if columns is None:
        columns = [c for c in attrs.columns if c not in JOIN_KEYS]
    missing_cols = [c for c in columns if c not in attrs.columns]
    if missing_cols:
        raise DataError(f"no column(s) {', '.join(missing_cols)}", path=a_origin)
    keys = table[on].astype(str)
    found = keys.isin(set(attrs[on]))
    if how_missing == "error" and not found.all():
        i = int(np.flatnonzero(~found.to_numpy())[0])
        raise DataError(f"row {i}: {on} {keys.iloc[i]!r} has no attributes", path=t_origin,
                        hint=f"add it to {a_origin}")
    lookup = attrs.set_index(on)[columns]
    out = table.drop(columns=[c for c in columns if c in table.columns]).copy()
    joined = lookup.reindex(keys.to_numpy())
    for c in columns:
        out[c] = joined[c].to_numpy()
    out.attrs = dict(table.attrs)
    return out
