"""The study's row selections: splits, the separability set and the fine-tuning subsets."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from fakescope.data.manifest import like, resolve_path


def ensure_splits(df: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Keep train/val/test when the manifest has all three; else a seeded 60/20/20 split by
    identity (or video_id when identities are empty), so no identity spans two splits."""
    if {"train", "val", "test"} <= set(df["split"]):
        return df
    key = np.where(df["identity"].astype(str) != "", df["identity"].astype(str),
                   df["video_id"].astype(str))
    groups = np.unique(key)
    rng = np.random.default_rng(seed)
    u = dict(zip(groups, rng.random(len(groups)), strict=True))
    r = np.array([u[k] for k in key])
    out = df.copy()
    out["split"] = np.where(r < 0.6, "train", np.where(r < 0.8, "val", "test"))
    return like(out, df)


def sample_per_group(df: pd.DataFrame, column: str, n: int, *, seed: int) -> pd.DataFrame:
    """Up to ``n`` rows of each value of ``column`` (seeded), in manifest order."""
    parts = [g.sample(n=min(n, len(g)), random_state=seed) for _, g in df.groupby(column)]
    return like(pd.concat(parts).sort_index() if parts else df.iloc[:0], df)


def balanced_subset(df: pd.DataFrame, per_class: int, *, seed: int) -> pd.DataFrame:
    """``per_class`` real rows and ``per_class`` fake rows spread evenly over the sources."""
    real = df[df["label"] == 0]
    fake = df[df["label"] == 1]
    real = real.sample(n=min(per_class, len(real)), random_state=seed)
    sources = sorted(fake["source"].unique())
    if sources:
        per_src = max(1, per_class // len(sources))
        fake = sample_per_group(fake, "source", per_src, seed=seed)
    return like(pd.concat([real, fake]).sort_index(), df)


def manifest_hash(df: pd.DataFrame) -> str:
    """sha256 of the manifest's sample ids and resolved paths (with file sizes)."""
    h = hashlib.sha256()
    for sid, p in zip(df["sample_id"], df["path"], strict=True):
        f = resolve_path(df, p)
        size = f.stat().st_size if f.is_file() else -1
        h.update(f"{sid}\t{f}\t{size}\n".encode())
    return h.hexdigest()[:16]
