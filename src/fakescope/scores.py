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

from fakescope.data.manifest import parse_labels
from fakescope.data.tables import read_table, write_table
from fakescope.errors import DataError

P_FAKE_ALIASES = ("p_fake", "prob", "score", "pred", "prob_fake")
UNCERTAINTY_COLUMNS = ("unc_total", "unc_aleatoric", "unc_epistemic", "unc_variance")


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
