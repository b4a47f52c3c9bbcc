"""A PyTorch dataset over cached signal maps, one item per map window.

The index is :func:`fakescope.signals.map_cache.cache_index`'s table: one row per window with
the clip's manifest columns (``sample_id``, ``label``, ``source``, ...), ``window`` (the map's
index in its clip file) and ``map_path`` (the clip's ``.npz`` with ``maps (N, 3, w, 2C)``).
This module reads those files only (``data`` does not import ``signals``).

Items are those of :class:`~fakescope.data.dataset.ManifestDataset`::

    {"image": float32 (3, w, 2C) (the map; not in [0, 1]: z-scored signals | spectra),
     "label": int64, "target": int64, "group": int64 (-1 without groups),
     "index": int64 row of the index (a window)}

and so are the attributes the engine, the run step and the scores table use (``df``,
``labels``, ``targets``, ``groups``, ``group_names``, ``class_names``, ``target``,
``image_size``, ``bad_items``, ``set_epoch``, ``path``), plus ``clip_ids`` (``sample_id`` per
window) for averaging window scores per clip. A clip file is read once and kept (least recently
used first out, ``cache_clips`` files). Unreadable files: ``on_error="skip"`` gives ``None``
(dropped by :func:`~fakescope.data.dataset.collate_skip`) and records the row in ``bad_items``;
``"raise"`` raises the DataError naming the file.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from fakescope.data.dataset import image_or_skip, label_arrays, make_item
from fakescope.errors import ConfigError, DataError

REQUIRED = ("sample_id", "label", "window", "map_path")


class SignalMapDataset(Dataset):
    """Map windows of a cache index (see module doc), with labels, targets and groups."""

    def __init__(
        self,
        index_df: pd.DataFrame,
        *,
        target: str = "binary",
        class_names: Sequence[str] | None = None,
        group_column: str | None = None,
        group_names: Sequence[str] | None = None,
        on_error: str = "skip",
        cache_clips: int = 64,
    ):
        if on_error not in ("skip", "raise"):
            raise ConfigError(f"on_error={on_error!r}", hint="use skip or raise")
        origin = index_df.attrs.get("origin")
        missing = [c for c in REQUIRED if c not in index_df.columns]
        if missing:
            raise DataError(f"a map index needs columns {missing}", path=origin,
                            hint="build it with fakescope.signals.map_cache.cache_index")
        self.df = index_df.reset_index(drop=True)
        self.df.attrs = dict(index_df.attrs)
        self.target = target
        (self.class_names, self.labels, self.targets, self.groups,
         self.group_names) = label_arrays(self.df, target, class_names, group_column, group_names,
                                          origin=origin)
        self.clip_ids = self.df["sample_id"].astype(str).to_numpy()
        self.windows = self.df["window"].to_numpy(np.int64)
        self.map_paths = self.df["map_path"].astype(str).to_numpy()
        self.epoch = 0
        self.on_error = on_error
        self.bad_items: dict[int, str] = {}
        self.cache_clips = max(int(cache_clips), 1)
        self._clips: OrderedDict[str, np.ndarray] = OrderedDict()
        self.image_size = self._map_height()

    def _map_height(self) -> int:
        """The map height ``w`` (the window) from the first readable file; 0 if none is."""
        for path in dict.fromkeys(self.map_paths):
            try:
                return int(self._maps(path).shape[2])
            except DataError:
                continue
        return 0

    def __len__(self) -> int:
        return len(self.df)

    def set_epoch(self, epoch: int) -> None:
        """Kept for the engine's protocol (maps are not augmented)."""
        self.epoch = int(epoch)

    def path(self, index: int) -> Path:
        """The cache file holding row ``index``'s map."""
        return Path(self.map_paths[index])

    def _maps(self, path: str) -> np.ndarray:
        """All maps ``(N, 3, w, 2C)`` of one clip file (float16 as stored), LRU-cached."""
        if path in self._clips:
            self._clips.move_to_end(path)
            return self._clips[path]
        try:
            with np.load(path, allow_pickle=False) as data:
                maps = np.asarray(data["maps"])
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"unreadable map file ({exc})", path=path) from exc
        if maps.ndim != 4 or maps.shape[1] != 3:
            raise DataError(f"maps must have shape (N, 3, w, 2C), got {maps.shape}", path=path)
        self._clips[path] = maps
        while len(self._clips) > self.cache_clips:
            self._clips.popitem(last=False)
        return maps

    def _image(self, index: int) -> torch.Tensor:
        path, w = self.map_paths[index], self.windows[index]
        maps = self._maps(path)
        if not 0 <= w < len(maps):
            raise DataError(f"window {w} is not in the file ({len(maps)} maps)", path=path,
                            hint="the index is older than the cache: rebuild it")
        return torch.from_numpy(maps[w].astype(np.float32))

    def __getitem__(self, index: int):
        img = image_or_skip(self, index)
        return None if img is None else make_item(self, index, img)
