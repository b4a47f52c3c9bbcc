"""The study's test clips on a video manifest (:class:`fakescope.uncertainty.clips.Clips`: per
clip, per pass, the mean of its units' probabilities): face frames for a blind detector, map
windows for a biological one. :class:`Clips` has the interface of
:class:`~fakescope.experiments.uncertainty.data.Images` (``rows``, ``labels``, ``sources``,
``skipped``, ``predict``, ``features``), so the binary, multi-class, leave-one-generator-out,
calibration and attribution experiments run unchanged on clips.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from torch.utils.data import DataLoader

from fakescope.config import TrainConfig
from fakescope.data.dataset import collate_skip, load_tensor
from fakescope.data.manifest import select_split
from fakescope.errors import DataError
from fakescope.train.signal_data import map_dataset, prepare_maps
from fakescope.uncertainty.clips import Clips

__all__ = ["Clips", "frame_clips", "map_clips"]


def frame_clips(frames: pd.DataFrame, clips: pd.DataFrame, split: str, size: int) -> Clips:
    """The face frames of ``split`` (a frame manifest whose ``video_id`` is the clip's
    ``sample_id``, :func:`fakescope.experiments.video.frames.frame_manifest`) at ``size`` px,
    grouped by the clips of ``clips``."""
    x, rows, skipped = load_tensor(select_split(frames, split), size)
    return Clips.of_units(x, rows["video_id"], select_split(clips, split), skipped,
                          what="face frame")


def map_clips(cfg: TrainConfig, clips: pd.DataFrame, split: str, work: Path) -> Clips:
    """The signal maps of the clips of ``split`` under the map detector config ``cfg`` (its
    caches, :func:`fakescope.train.signal_data.prepare_maps`; ``work`` is the run folder used
    when ``cfg`` names no cache), every window in memory."""
    rows = select_split(clips, split)
    prepared = prepare_maps(cfg, rows, work)
    where = dict(zip(rows["sample_id"].astype(str), rows["path"].astype(str), strict=True))
    skipped = {where.get(s, s): e for s, e in prepared.failed.items()}
    if prepared.index.empty:
        raise DataError(f"no clip of the {split!r} split gave a signal map",
                        path=clips.attrs.get("origin"),
                        hint=f"first failure: {next(iter(skipped.items()), ('', ''))}")
    ds = map_dataset(prepared.index, target="binary", class_names=["real", "fake"])
    batches = [b for b in DataLoader(ds, batch_size=256, collate_fn=collate_skip)
               if b is not None]
    if not batches:
        raise DataError(f"no readable map in the {split!r} split", path=clips.attrs.get("origin"))
    index = torch.cat([b["index"] for b in batches]).numpy()
    for j, err in ds.bad_items.items():
        skipped.setdefault(str(ds.path(j)), err)
    return Clips.of_units(torch.cat([b["image"] for b in batches]), ds.clip_ids[index], rows,
                          skipped, what="signal map")
