"""PyTorch datasets over a manifest.

Each item is a dict::

    {"image": float32 (3, S, S) in [0, 1], "label": int64 (0 real / 1 fake),
     "target": int64 class index (== label for binary; 0 real, 1.. sources for multi-class),
     "group": int64 group code (-1 when no group column), "index": int64 row in the manifest}

Unreadable images: with ``on_error="skip"`` the item is ``None`` (dropped by
:func:`collate_skip`) and the file is recorded in ``dataset.bad_items``; with ``"raise"`` a
DataError names the file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from fakescope.data.images import load_image
from fakescope.data.manifest import resolve_path
from fakescope.errors import DataError

log = logging.getLogger(__name__)


def resize_to_tensor(image: np.ndarray, size: int) -> torch.Tensor:
    """RGB uint8 ``(H, W, 3)`` -> float ``(3, size, size)`` in [0, 1] (area resampling)."""
    if image.shape[0] != size or image.shape[1] != size:
        interp = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_LINEAR
        image = cv2.resize(image, (size, size), interpolation=interp)
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)


def class_names_for(manifest: pd.DataFrame, target: str) -> list[str]:
    """``["real", "fake"]`` for binary; ``["real", *sorted fake sources]`` for multi-class."""
    if target == "binary":
        return ["real", "fake"]
    if target == "multiclass":
        sources = sorted(set(manifest.loc[manifest["label"] == 1, "source"].astype(str)))
        return ["real", *sources]
    raise DataError(f"unknown target {target!r}", hint="use binary or multiclass")


def group_codes(values: pd.Series, categories: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Integer codes of a group column (sorted categories unless given); unknown values -> -1."""
    vals = values.astype(str)
    cats = list(categories) if categories is not None else sorted(set(vals))
    lookup = {c: i for i, c in enumerate(cats)}
    return np.array([lookup.get(v, -1) for v in vals], dtype=np.int64), cats


def label_arrays(df: pd.DataFrame, target: str, class_names=None, group_column=None,
                 group_names=None, *, origin=None):
    """``(class_names, labels, targets, groups, group_names)`` of a manifest-like table: labels
    int64 ``(N,)``; targets = labels (binary) or the class index of ``real`` / ``source``
    (multiclass; DataError naming ``origin`` for a source outside ``class_names``); groups the
    integer codes of ``group_column`` (-1 everywhere without one)."""
    class_names = list(class_names) if class_names else class_names_for(df, target)
    labels = df["label"].to_numpy(np.int64)
    if target == "binary":
        targets = labels.copy()
    else:
        lookup = {c: i for i, c in enumerate(class_names)}
        src = np.where(labels == 0, "real", df["source"].astype(str))
        unknown = sorted({s for s in src if s not in lookup})
        if unknown:
            raise DataError(f"sources {unknown} are not among the model's classes "
                            f"{class_names}", path=origin)
        targets = np.array([lookup[s] for s in src], dtype=np.int64)
    if group_column:
        if group_column not in df.columns:
            raise DataError(f"no column {group_column!r} for groups", path=origin)
        groups, group_names = group_codes(df[group_column], group_names)
    else:
        groups, group_names = np.full(len(df), -1, np.int64), []
    return class_names, labels, targets, groups, group_names


class ManifestDataset(Dataset):
    """Images of a manifest, resized to ``image_size``, with labels, targets and groups."""

    def __init__(
        self,
        manifest: pd.DataFrame,
        *,
        image_size: int,
        target: str = "binary",
        class_names: Sequence[str] | None = None,
        group_column: str | None = None,
        group_names: Sequence[str] | None = None,
        augment: bool = False,
        seed: int = 0,
        cache_images: bool = False,
        on_error: str = "raise",
    ):
        self.df = manifest.reset_index(drop=True)
        self.df.attrs = dict(manifest.attrs)
        self.image_size = int(image_size)
        self.target = target
        (self.class_names, self.labels, self.targets, self.groups,
         self.group_names) = label_arrays(self.df, target, class_names, group_column, group_names,
                                          origin=self.df.attrs.get("origin"))
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0
        self.on_error = on_error
        self.bad_items: dict[int, str] = {}
        self._cache: dict[int, torch.Tensor] | None = {} if cache_images else None

    def __len__(self) -> int:
        return len(self.df)

    def set_epoch(self, epoch: int) -> None:
        """Augmentation randomness is a function of (seed, epoch, index): resumable and DDP-safe."""
        self.epoch = int(epoch)

    def path(self, index: int):
        return resolve_path(self.df, self.df.at[index, "path"])

    def _image(self, index: int) -> torch.Tensor:
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        img = resize_to_tensor(load_image(self.path(index)), self.image_size)
        if self._cache is not None:
            self._cache[index] = img
        return img

    def __getitem__(self, index: int):
        img = image_or_skip(self, index)
        if img is None:
            return None
        if self.augment:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            if rng.random() < 0.5:
                img = img.flip(-1)
        return make_item(self, index, img)


def image_or_skip(ds, index: int):
    """``ds._image(index)``; with ``ds.on_error == "skip"`` a DataError is logged once, kept in
    ``ds.bad_items`` and gives ``None`` (collate_skip drops it)."""
    try:
        return ds._image(index)
    except DataError as exc:
        if ds.on_error == "raise":
            raise
        if index not in ds.bad_items:
            log.warning("skipping %s", exc)
        ds.bad_items[index] = str(exc)
        return None


def make_item(ds, index: int, img) -> dict:
    """The item every dataset gives the engine: image, label, target, group, index tensors."""
    return {
        "image": img,
        "label": torch.tensor(ds.labels[index]),
        "target": torch.tensor(ds.targets[index]),
        "group": torch.tensor(ds.groups[index]),
        "index": torch.tensor(index),
    }


def collate_skip(items):
    """``default_collate`` over the items that are not ``None``; ``None`` if all were bad."""
    items = [it for it in items if it is not None]
    return default_collate(items) if items else None


def load_tensor(df: pd.DataFrame, size: int, *, batch_size: int = 64,
                ) -> tuple[torch.Tensor, pd.DataFrame, dict[str, str]]:
    """Every readable image of the manifest rows ``df`` in memory: ``x (M, 3, size, size)``
    float in [0, 1], ``rows`` their manifest rows (index 0..M-1, same order) and ``skipped
    {path: error}`` of the unreadable ones. DataError when none is readable."""
    ds = ManifestDataset(df, image_size=size, on_error="skip")
    batches = [b for b in DataLoader(ds, batch_size=batch_size, collate_fn=collate_skip)
               if b is not None]
    if not batches:
        raise DataError(f"none of {len(df)} images is readable", path=df.attrs.get("origin"))
    index = torch.cat([b["index"] for b in batches]).numpy()
    return (torch.cat([b["image"] for b in batches]), ds.df.iloc[index].reset_index(drop=True),
            {str(ds.path(i)): e for i, e in ds.bad_items.items()})
