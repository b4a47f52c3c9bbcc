"""The scores table: the hinge between detectors and every analysis.

One row per sample. Columns:

- ``sample_id`` (str), ``label`` (int 0/1), ``p_fake`` (float in [0, 1]) — required on load;
- ``logit_0 .. logit_{C-1}`` — raw head logits where the detector produced them;
- ``source``, ``video_id``, ``split``, ``identity`` and any group columns copied from the manifest;
- uncertainty columns ``unc_total``, ``unc_aleatoric``, ``unc_epistemic``, ``unc_variance`` when
  a stochastic method was used.

Any detector's output (DeepfakeBench's included) can be brought as a CSV with ``label`` and
``p_fake`` (``prob``, ``score`` and ``pred`` are accepted as aliases of ``p_fake``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fakescope.data.manifest import parse_labels
from fakescope.data.tables import read_table, write_table
from fakescope.errors import DataError

P_FAKE_ALIASES = ("p_fake", "prob", "score", "pred", "prob_fake")


def validate_scores(df: pd.DataFrame, *, origin: str = "<scores>") -> pd.DataFrame:
    """Check a scores table; returns a copy with ``sample_id``, int ``label`` and float ``p_fake``.

    NaN or out-of-range ``p_fake`` is an error naming the first bad row: a silent drop would
    change every metric.
    """
    df = df.copy()
    if "p_fake" not in df.columns:
        alias = next((c for c in P_FAKE_ALIASES if c in df.columns), None)
        if alias is None:
            raise DataError("no p_fake column", path=origin,
                            hint=f"name the fake-probability column one of {', '.join(P_FAKE_ALIASES)}")
        df = df.rename(columns={alias: "p_fake"})
    if "label" not in df.columns:
        raise DataError("no label column", path=origin, hint="0 = real, 1 = fake")
    df["label"] = parse_labels(df["label"], origin=origin)
    p = pd.to_numeric(df["p_fake"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"row {i}, column 'p_fake': {df['p_fake'].iloc[i]!r} is not a probability "
                        f"in [0, 1] ({int(bad.sum())} bad row(s))", path=origin)
    df["p_fake"] = p
    if "sample_id" not in df.columns:
        df.insert(0, "sample_id", [str(i) for i in range(len(df))])
    df["sample_id"] = df["sample_id"].astype(str)
    if "video_id" in df.columns:
        df["video_id"] = df["video_id"].astype(str)
    df.attrs = {"origin": origin}
    return df


def read_scores(path: str | Path) -> pd.DataFrame:
    """Load a scores table (CSV or Parquet) and validate it."""
    path = Path(path)
    df = read_table(path, what="scores file", dtype={"sample_id": str, "video_id": str})
    if df.empty:
        raise DataError("scores file has no rows", path=path)
    return validate_scores(df, origin=str(path))


def write_scores(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a scores table (CSV or Parquet by suffix), atomically."""
    return write_table(df, path)


def scores_table(ds, indices: np.ndarray, logits: np.ndarray,
                 class_names: list[str]) -> pd.DataFrame:
    """Scores table rows for items ``indices (M,)`` of a ``ManifestDataset`` ``ds`` with detection
    logits ``(M, C)``: ``sample_id, label, p_fake = 1 - softmax(logits)_0, pred, logit_k``, every
    other manifest column, and ``row`` (the item's index in ``ds``).

    ``attrs["skipped"]`` holds the dataset's unreadable items, ``attrs["class_names"]`` the classes.
    """
    probs = torch.softmax(torch.from_numpy(logits).float(), dim=-1).numpy()
    rows = ds.df.iloc[indices]
    out = pd.DataFrame({
        "sample_id": rows["sample_id"].to_numpy(),
        "label": rows["label"].to_numpy(),
        "p_fake": 1.0 - probs[:, 0].astype(np.float64),
        "pred": [class_names[i] for i in probs.argmax(1)] if len(probs) else [],
    })
    for k in range(logits.shape[1]):
        out[f"logit_{k}"] = logits[:, k]
    keep = [c for c in rows.columns if c not in ("sample_id", "label")]
    for c in keep:
        out[c] = rows[c].to_numpy()
    out["row"] = indices
    out.attrs["skipped"] = dict(getattr(ds, "bad_items", {}))
    out.attrs["class_names"] = list(class_names)
    return out
