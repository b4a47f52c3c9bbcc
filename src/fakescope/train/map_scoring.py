"""A map detector's predictions per clip: its window probabilities averaged over each clip.

A map detector classifies windows. With ``T`` passes (1 deterministic, or the samples of MC
dropout, Bayesian layers or an ensemble) and window probabilities ``p[t, j, c]``, clip ``k``
gets, per pass,

    P[t, k, c] = mean over the windows j of clip k of p[t, j, c]        (T, K, C)

so its ``p_fake = 1 - mean_t P[t, k, 0]`` is the mean of its windows' P(fake), and the
uncertainty of ``P`` (total / aleatoric / epistemic / variance) is decomposed per clip by the
same code as an image's (:mod:`fakescope.uncertainty.decompose`): a clip's epistemic part is
the disagreement of the passes about the clip, not the spread of its windows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fakescope.config import TrainConfig
from fakescope.errors import DataError
from fakescope.models.detector import Detector
from fakescope.train.engine import predict_dataset
from fakescope.train.signal_data import map_dataset, prepare_maps


def clip_means(probs: torch.Tensor, clip_ids, order) -> tuple[torch.Tensor, np.ndarray]:
    """Window probabilities ``probs (T, W, C)`` of windows of clips ``clip_ids (W,)`` ->
    ``(P (T, K, C), positions (K,))``: the mean per clip, for the clips of ``order`` (sample
    ids) that have a window, in ``order``'s order; ``positions`` index ``order``."""
    ids = np.asarray([str(c) for c in clip_ids])
    where = {str(s): i for i, s in enumerate(order)}
    pos = np.array([where[c] for c in ids], dtype=np.int64)
    present = np.unique(pos)
    code = torch.from_numpy(np.searchsorted(present, pos))
    t, _, c = probs.shape
    sums = torch.zeros(t, len(present), c, dtype=torch.float64)
    sums.index_add_(1, code, probs.double())
    counts = torch.bincount(code, minlength=len(present)).double()
    return (sums / counts[None, :, None]).float(), present


@dataclass
class ClipRows:
    """The clips being scored, as :func:`fakescope.scores.scores_table` reads a dataset:
    ``df`` (manifest rows, index reset) and ``bad_items`` {row position: error}."""

    df: pd.DataFrame
    bad_items: dict[int, str] = field(default_factory=dict)


@dataclass
class ClipPrediction:
    """``probs (T, K, C)`` of the clips at ``positions (K,)`` of ``clips.df``; clips without a
    map are in ``clips.bad_items``."""

    clips: ClipRows
    positions: np.ndarray
    probs: torch.Tensor


@contextmanager
def _work_dir(out: Path | None, cfg: TrainConfig):
    if out is not None or (cfg.data.signals_dir and cfg.data.map_cache):
        yield out or Path(cfg.data.signals_dir)
        return
    with tempfile.TemporaryDirectory(prefix="fakescope-maps-") as tmp:
        yield Path(tmp)


def predict_clips(model: Detector, cfg: TrainConfig, rows: pd.DataFrame, *,
                  out: str | Path | None, class_names: list[str], target: str,
                  device: torch.device, method: str = "none", samples: int = 16, seed: int = 0,
                  batch_size: int | None = None,
                  say: Callable[[str], None] | None = None, backend=None) -> ClipPrediction:
    """Clip probabilities of the clips in ``rows`` (a video manifest) under the map detector
    ``model`` trained with ``cfg``. Maps come from the caches of
    :func:`~fakescope.train.signal_data.prepare_maps` under the run folder ``out`` (a
    temporary folder, deleted after, when there is no run folder and ``cfg`` names none);
    ``backend`` extracts their signals. DataError when no clip gives a map."""
    clips = ClipRows(rows.reset_index(drop=True))
    clips.df.attrs = dict(rows.attrs)
    with _work_dir(Path(out) if out is not None else None, cfg) as work:
        prepared = prepare_maps(cfg, clips.df, work, say=say, backend=backend)
        where = {str(s): i for i, s in enumerate(clips.df["sample_id"])}
        clips.bad_items.update({where[s]: e for s, e in prepared.failed.items() if s in where})
        if prepared.index.empty:
            first = next(iter(prepared.failed.items()), ("", "no rows"))
            raise DataError(f"no clip among {len(rows)} rows gave a signal map (first: "
                            f"{first[0]}: {first[1]})", path=rows.attrs.get("origin"))
        ds = map_dataset(prepared.index, target=target, class_names=class_names)
        pred = predict_dataset(model, ds, cfg, device=device, method=method, samples=samples,
                               seed=seed, batch_size=batch_size)
    probs = pred.probs
    if method == "none":
        probs = pred.logits.float().softmax(-1)[None]
    index = pred.index.numpy()
    clip_probs, positions = clip_means(probs, ds.clip_ids[index], clips.df["sample_id"])
    unreadable: dict[str, str] = {}  # clips whose every window's file failed to load
    for j, err in ds.bad_items.items():
        unreadable.setdefault(str(ds.clip_ids[j]), err)
    scored = set(positions.tolist())
    for i, sid in enumerate(clips.df["sample_id"].astype(str)):
        if i not in scored and i not in clips.bad_items:
            clips.bad_items[i] = unreadable.get(sid, "no readable map")
    return ClipPrediction(clips, positions, clip_probs)
