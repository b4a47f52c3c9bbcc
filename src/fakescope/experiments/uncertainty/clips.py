"""Clips as the study's test inputs: every detector, blind or biological, answers per clip.

A detector scores *units* of a clip: face frames for a blind (image) detector, signal-map windows
for a biological one (``ppg_map``, ``motion_map``). With ``T`` passes (MC dropout samples,
Bayesian weight samples, ensemble members) and unit probabilities ``p[t, u, c]``, clip ``k``
gets, per pass,

    P[t, k, c] = mean over the units u of clip k of p[t, u, c]              (T, K, C)

(:func:`fakescope.train.map_scoring.clip_means`), and every measure of the study (AUC, ECE, the
total / aleatoric / epistemic decomposition) is computed on ``P``. So a clip's epistemic part is
the passes' disagreement *about the clip* for both families, not the mean of per-frame
disagreements, and the two families are compared on the same footing. A clip's penultimate
feature is the mean of its units' features.

:class:`Clips` has the interface of :class:`~fakescope.experiments.uncertainty.data.Images`
(``rows``, ``labels``, ``sources``, ``skipped``, ``predict``, ``features``), so the binary,
multi-class, leave-one-generator-out, calibration and attribution experiments run unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from fakescope.config import TrainConfig
from fakescope.data.dataset import collate_skip
from fakescope.data.manifest import select_split
from fakescope.errors import DataError
from fakescope.experiments.uncertainty.data import load_images, unit_features
from fakescope.models.predict import predict_samples
from fakescope.train.map_scoring import clip_means
from fakescope.train.signal_data import map_dataset, prepare_maps


@dataclass
class Clips:
    """The clips of one split that gave at least one unit.

    ``x (U, 3, H, W)``: the units (frames in [0, 1], or z-scored maps); ``unit_clip (U,)``: the
    position in ``rows`` of each unit's clip; ``rows``: the clips' manifest rows (index
    0..K-1); ``skipped {clip path or id: error}``: clips (or frames) left out, with why."""

    x: torch.Tensor
    unit_clip: np.ndarray
    rows: pd.DataFrame
    skipped: dict[str, str]

    @property
    def labels(self) -> np.ndarray:
        """``(K,)`` 0 real / 1 fake."""
        return self.rows["label"].to_numpy()

    @property
    def sources(self) -> np.ndarray:
        """``(K,)`` source names (``"real"`` or the generator) as str."""
        return self.rows["source"].astype(str).to_numpy()

    def predict(self, members, *, method: str = "none", samples: int = 16, seed: int = 0,
                batch_size: int = 128) -> torch.Tensor:
        """Clip probability samples ``P (T, K, C)``: the units' samples averaged per clip and
        pass (module doc)."""
        probs = predict_samples(members, self.x, method=method, samples=samples, seed=seed,
                                batch_size=batch_size)
        clip_probs, _ = clip_means(probs, self.unit_clip, np.arange(len(self.rows)))
        return clip_probs

    def features(self, model, batch_size: int = 128) -> np.ndarray:
        """``(K, D)``: the mean of each clip's units' penultimate features."""
        f = unit_features(model, self.x, batch_size)
        sums = np.zeros((len(self.rows), f.shape[1]))
        np.add.at(sums, self.unit_clip, f)
        return sums / np.bincount(self.unit_clip, minlength=len(self.rows))[:, None]


def _clips_of(units_clip_ids, split_rows: pd.DataFrame, x: torch.Tensor,
              skipped: dict[str, str], what: str) -> Clips:
    """:class:`Clips` from units ``x`` whose clips have sample ids ``units_clip_ids (U,)``,
    keeping the clips of ``split_rows`` (manifest order) that have a unit; the others are
    added to ``skipped``."""
    ids = np.asarray([str(c) for c in units_clip_ids])
    present = set(ids.tolist())
    sid = split_rows["sample_id"].astype(str)
    for s, p in zip(sid, split_rows["path"].astype(str), strict=True):
        if s not in present:
            skipped.setdefault(p, f"no readable {what}")
    rows = split_rows[sid.isin(present).to_numpy()].reset_index(drop=True)
    if rows.empty:
        raise DataError(f"no clip gave a readable {what}", path=split_rows.attrs.get("origin"))
    where = {s: i for i, s in enumerate(rows["sample_id"].astype(str))}
    return Clips(x, np.array([where[s] for s in ids], dtype=np.int64), rows, skipped)


def frame_clips(frames: pd.DataFrame, clips: pd.DataFrame, split: str, size: int) -> Clips:
    """The face frames of ``split`` (a frame manifest whose ``video_id`` is the clip's
    ``sample_id``, :func:`fakescope.experiments.video.frames.frame_manifest`) at ``size`` px,
    grouped by the clips of ``clips``."""
    imgs = load_images(frames, split, size)
    return _clips_of(imgs.rows["video_id"], select_split(clips, split), imgs.x,
                     dict(imgs.skipped), "face frame")


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
    return _clips_of(ds.clip_ids[index], rows, torch.cat([b["image"] for b in batches]),
                     skipped, "signal map")
