"""The statistics of the difficulty calibration: a generator's AUC against all reals, and the
paired drop of that AUC when the generator is left out of training.

Both read scores tables (:mod:`fakescope.scores`) with ``label``, ``p_fake``, ``source`` and,
for the paired drop, ``sample_id`` and ``identity``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fakescope.metrics.detection import bootstrap_ci, roc_auc

#: The target band of in-domain AUC for every generator (issue 3).
TARGET = (0.75, 0.98)


def generator_auc(scores: pd.DataFrame, generator: str, *, n_boot: int = 300,
                  seed: int = 0) -> tuple[float, float, float, int]:
    """``(auc, lo, hi, n_fake)`` of ``generator``'s fakes against all reals in ``scores``:
    ``AUC_g = P(s(fake_g) > s(real))`` with a stratified percentile bootstrap interval."""
    part = scores[(scores["label"] == 0) | (scores["source"] == generator)]
    y, s = part["label"].to_numpy(), part["p_fake"].to_numpy()
    lo, hi = bootstrap_ci(roc_auc, y, s, n_boot=n_boot, seed=seed)
    return roc_auc(y, s), lo, hi, int(y.sum())


def drop_ci(scores_in: pd.DataFrame, scores_logo: pd.DataFrame, generator: str, *,
            n_boot: int = 300, seed: int = 0) -> tuple[float, float, float]:
    """``(drop, lo, hi)``: ``AUC_in - AUC_logo`` of ``generator``'s test fakes against all test
    reals, with a *paired*, identity-clustered percentile bootstrap.

    Both detectors score the same test images (joined on ``sample_id``), and each resample
    draws whole identities (a real and the fakes made from it, and an identity's other images,
    are not independent) and recomputes both AUCs on the same draw, so the interval is that of
    the difference itself: much tighter than the two AUC intervals side by side, because the
    test-set luck the two share cancels. It covers test-set sampling only, not the spread from
    training one detector again with another seed.
    """
    keep = ["sample_id", "label", "p_fake", "identity"]
    part = scores_in[(scores_in["label"] == 0) | (scores_in["source"] == generator)][keep]
    both = part.merge(scores_logo[["sample_id", "p_fake"]], on="sample_id",
                      suffixes=("_in", "_logo"), validate="one_to_one")
    y = both["label"].to_numpy()
    a, b = both["p_fake_in"].to_numpy(), both["p_fake_logo"].to_numpy()

    def diff(yy, idx):  # bootstrap_ci resamples positions; both AUCs use the same ones
        i = idx.astype(np.int64)
        return roc_auc(yy, a[i]) - roc_auc(yy, b[i])

    lo, hi = bootstrap_ci(diff, y, np.arange(len(y)), n_boot=n_boot, seed=seed,
                          clusters=both["identity"].to_numpy())
    return roc_auc(y, a) - roc_auc(y, b), lo, hi
