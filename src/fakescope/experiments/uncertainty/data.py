"""The study's rows and images: subsample, manifest checks, test images in memory."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from fakescope.data.dataset import load_tensor
from fakescope.data.manifest import select_split, subset
from fakescope.errors import DataError
from fakescope.models.predict import predict_samples
from fakescope.uncertainty.clips import LabelledRows, unit_features


def subsample(df: pd.DataFrame, per_class: int | None, seed: int) -> pd.DataFrame:
    """At most ``per_class`` reals and ``per_class`` fakes per split, seeded; keeps ``attrs``
    and the index labels.

    Fakes are drawn evenly over generators (round-robin over sources in a seeded order), so
    every generator keeps about ``per_class / #generators`` images when it has that many.
    """
    if not per_class:
        return df
    rng = np.random.default_rng(seed)
    keep: list = []
    for split in sorted(df["split"].unique()):
        part = df[df["split"] == split]
        real = part.index[part["label"] == 0].to_numpy()
        keep.extend(rng.permutation(real)[:per_class].tolist())
        queues = [list(rng.permutation(g.index.to_numpy()))
                  for _, g in part[part["label"] == 1].groupby("source", sort=True)]
        taken = 0
        while taken < per_class and any(queues):
            for q in queues:
                if q and taken < per_class:
                    keep.append(q.pop())
                    taken += 1
    return subset(df, sorted(keep), reset_index=False)


def check_manifest(df: pd.DataFrame) -> list[str]:
    """The fake sources (generators), sorted; DataError unless train, val and test each hold
    real and fake rows."""
    for split in ("train", "val", "test"):
        if not (df["split"] == split).any():
            raise DataError(f"the manifest has no {split!r} rows", path=df.attrs.get("origin"),
                            hint="the study needs train, val and test splits")
        if df.loc[df["split"] == split, "label"].nunique() < 2:
            raise DataError(f"the {split!r} split needs real and fake rows",
                            path=df.attrs.get("origin"))
    gens = sorted(set(df.loc[df["label"] == 1, "source"].astype(str)))
    if not gens:
        raise DataError("no fake rows", path=df.attrs.get("origin"))
    return gens


@dataclass
class Images(LabelledRows):
    """The readable images of one split in memory: ``x (M, 3, S, S)`` float in [0, 1],
    ``rows`` their manifest rows (index 0..M-1, same order) and ``skipped {path: error}``."""

    x: torch.Tensor
    rows: pd.DataFrame
    skipped: dict[str, str]

    def predict(self, members, *, method: str = "none", samples: int = 16, seed: int = 0,
                batch_size: int = 128) -> torch.Tensor:
        """Probability samples ``(T, M, C)`` of the images under ``members`` (one detector, or
        a list for ``ensemble``) with ``method`` (:func:`fakescope.models.predict.predict`)."""
        return predict_samples(members, self.x, method=method, samples=samples, seed=seed,
                               batch_size=batch_size)

    def features(self, model, batch_size: int = 128) -> np.ndarray:
        """Penultimate features ``(M, D)`` of the images (``model.features``)."""
        return unit_features(model, self.x, batch_size)


def load_images(df: pd.DataFrame, split: str, size: int) -> Images:
    """The images of ``split`` resized to ``size``; unreadable ones are skipped and listed."""
    part = select_split(df, split)
    if part.empty:
        raise DataError(f"no readable image in the {split!r} split", path=df.attrs.get("origin"))
    try:
        return Images(*load_tensor(part, size))
    except DataError as exc:
        raise DataError(f"no readable image in the {split!r} split",
                        path=df.attrs.get("origin")) from exc


def cluster_ids(rows: pd.DataFrame) -> np.ndarray:
    """``(N,)`` the cluster of each row, for grouped folds and resampling: its ``identity`` when
    every row has one (a person's real and fake images or clips share it), else its
    ``video_id`` (which defaults to the row's ``sample_id``)."""
    ident = rows["identity"].fillna("").astype(str) if "identity" in rows else None
    if ident is not None and (ident.str.strip() != "").all():
        return ident.to_numpy()
    return rows["video_id"].astype(str).to_numpy()


def balanced_index(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` indices, half real half fake where possible, seeded, sorted."""
    rng = np.random.default_rng(seed)
    real, fake = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    k_real = min(len(real), n // 2)
    k_fake = min(len(fake), n - k_real)
    k_real = min(len(real), n - k_fake)
    idx = np.concatenate([rng.choice(real, k_real, replace=False),
                          rng.choice(fake, k_fake, replace=False)])
    return np.sort(idx)


def logo_generators(df: pd.DataFrame, logo_max: int) -> list[str]:
    """The generators held out in turn: the ``logo_max`` most frequent (ties by name; 0 = all)."""
    counts = df[df["label"] == 1]["source"].astype(str).value_counts()
    order = sorted(counts.index, key=lambda g: (-counts[g], g))
    return order[:logo_max] if logo_max else order


def without_generator(df: pd.DataFrame, generator: str) -> pd.DataFrame:
    """``df`` without the train/val fakes of ``generator`` (test rows kept); keeps ``attrs``."""
    held_out = ((df["label"] == 1) & (df["source"].astype(str) == generator)
                & df["split"].isin(["train", "val"]))
    return subset(df, ~held_out, reset_index=False)
