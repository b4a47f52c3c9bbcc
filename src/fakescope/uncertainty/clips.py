"""Clip predictions from the predictions of their units (face frames or signal-map windows).

A detector may score *units* of a clip: face frames for a blind (image) detector, signal-map
windows for a biological one (``ppg_map``, ``motion_map``). With ``T`` passes (MC dropout
samples, Bayesian weight samples, ensemble members) and unit probabilities ``p[t, u, c]``, clip
``k`` gets, per pass,

    P[t, k, c] = mean over the units u of clip k of p[t, u, c]              (T, K, C)

(:func:`fakescope.train.map_scoring.clip_means`), and every measure (AUC, ECE, the total /
aleatoric / epistemic decomposition of :mod:`fakescope.uncertainty.decompose`) is computed on
``P``. So a clip's epistemic part is the passes' disagreement *about the clip* for both
families, not the mean of per-frame disagreements, and the families compare on one footing.
A clip's penultimate feature is the mean of its units' features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from fakescope.errors import DataError
from fakescope.models.predict import predict_samples
from fakescope.train.map_scoring import clip_means


def unit_features(model, x: torch.Tensor, batch_size: int = 128) -> np.ndarray:
    """``model.features`` of the inputs ``x (N, 3, H, W)`` in batches, eval mode, -> ``(N, D)``."""
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            return torch.cat([model.features(x[i:i + batch_size].to(dev)).float().cpu()
                              for i in range(0, len(x), batch_size)]).numpy()
    finally:
        model.train(was)


class LabelledRows:
    """``labels`` and ``sources`` of a test set's manifest ``rows`` (one row per scored
    item: an image, or a clip)."""

    rows: pd.DataFrame

    @property
    def labels(self) -> np.ndarray:
        """``(N,)`` 0 real / 1 fake."""
        return self.rows["label"].to_numpy()

    @property
    def sources(self) -> np.ndarray:
        """``(N,)`` source names (``"real"`` or the generator) as str."""
        return self.rows["source"].astype(str).to_numpy()


@dataclass
class Clips(LabelledRows):
    """Clips that have at least one unit.

    ``x (U, 3, H, W)``: the units (frames in [0, 1], or z-scored maps); ``unit_clip (U,)``: the
    position in ``rows`` of each unit's clip; ``rows``: the clips' manifest rows (index
    0..K-1); ``skipped {clip path or id: error}``: clips (or units) left out, with why."""

    x: torch.Tensor
    unit_clip: np.ndarray
    rows: pd.DataFrame
    skipped: dict[str, str]

    @classmethod
    def of_units(cls, x: torch.Tensor, unit_clip_ids, clip_rows: pd.DataFrame,
                 skipped: dict[str, str] | None = None, *, what: str = "unit") -> Clips:
        """The clips of ``clip_rows`` (in their order) that have a unit among ``x``, whose
        clips' sample ids are ``unit_clip_ids (U,)``; the others are added to ``skipped``
        (``"no readable <what>"``). DataError when no clip has a unit."""
        skipped = dict(skipped or {})
        ids = np.asarray([str(c) for c in unit_clip_ids])
        present = set(ids.tolist())
        sid = clip_rows["sample_id"].astype(str)
        for s, p in zip(sid, clip_rows["path"].astype(str), strict=True):
            if s not in present:
                skipped.setdefault(p, f"no readable {what}")
        rows = clip_rows[sid.isin(present).to_numpy()].reset_index(drop=True)
        if rows.empty:
            raise DataError(f"no clip gave a readable {what}", path=clip_rows.attrs.get("origin"))
        where = {s: i for i, s in enumerate(rows["sample_id"].astype(str))}
        keep = np.array([s in where for s in ids])
        return cls(x[torch.from_numpy(keep)] if not keep.all() else x,
                   np.array([where[s] for s in ids[keep]], dtype=np.int64), rows, skipped)

    def predict(self, members, *, method: str = "none", samples: int = 16, seed: int = 0,
                batch_size: int = 128) -> torch.Tensor:
        """Clip probability samples ``P (T, K, C)``: the units' samples
        (:func:`fakescope.models.predict.predict_samples`) averaged per clip and pass."""
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
