"""How many of a training's rows cannot be read, and the refusal when too many cannot.

A training that silently drops rows is a different experiment (a fairness method trained
without its balancing images is plain ERM under another name), so the run step and the engine
stop when the unreadable share of the training or validation rows exceeds
``data.max_unreadable`` (default 0.01 = 1 %; 0 allows none, 1 allows any). Unreadable rows are
those whose file does not exist (checked before training, :func:`missing_files`) and those a
dataset could not decode while training (its ``bad_items``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fakescope.errors import DataError


def missing_files(ds) -> dict[int, str]:
    """``{item index: error}`` for the items of ``ds`` (a ManifestDataset or SignalMapDataset,
    anything with ``__len__`` and ``path(i)``) whose file does not exist; a stat per row."""
    out = {}
    for i in range(len(ds)):
        p = Path(ds.path(i))
        if not p.is_file():
            out[i] = f"{p}: file not found"
    return out


def unreadable_table(ds, bad: dict[int, str]) -> pd.DataFrame:
    """``index, sample_id, path, error`` per unreadable item (``sample_id`` when ``ds.df`` has one)."""
    ids = ds.df["sample_id"].astype(str).to_numpy() if "sample_id" in ds.df.columns else None
    idx = sorted(bad)
    return pd.DataFrame({"index": idx,
                         "sample_id": [ids[i] if ids is not None else "" for i in idx],
                         "path": [str(ds.path(i)) for i in idx],
                         "error": [bad[i] for i in idx]})


def refuse_unreadable(ds, bad: dict[int, str], max_share: float, *, what: str,
                      record: str | Path) -> None:
    """Raise a DataError when ``len(bad) > max_share * len(ds)``, after writing the unreadable
    rows to ``record`` (a CSV, see :func:`unreadable_table`). ``what`` names the rows
    ("training", "validation")."""
    n, total = len(bad), len(ds)
    if total == 0 or n <= max_share * total:
        return
    record = Path(record)
    record.parent.mkdir(parents=True, exist_ok=True)
    unreadable_table(ds, bad).to_csv(record, index=False)
    first = bad[min(bad)]
    raise DataError(f"{n} of {total} {what} rows ({n / total:.1%}) cannot be read, more than "
                    f"data.max_unreadable = {max_share:.1%}; training without them would be "
                    f"another experiment (first: {first})", path=record,
                    hint="fix the paths listed there, or raise data.max_unreadable "
                    "(--set data.max_unreadable=0.05) to train on the rest")
