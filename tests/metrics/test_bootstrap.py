"""Clustered bootstrap: the unit, the draws, paired differences and centred intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from fakescope.errors import ConfigError
from fakescope.metrics import bootstrap as bs
from fakescope.metrics.detection import bootstrap_ci, paired_difference_ci, roc_auc


def test_unit_is_identity_else_video_else_row():
    t = pd.DataFrame({"identity": ["a", "a", "b"], "video_id": ["v1", "v2", "v3"]})
    assert bs.resampling_unit(t).unit == "identity"
    assert bs.resampling_unit(t).describe() == "identity (2 clusters)"
    t.loc[2, "identity"] = ""  # not every row has one: the next unit
    assert bs.resampling_unit(t).unit == "video_id"
    assert bs.resampling_unit(t.drop(columns=["identity", "video_id"])).describe() == \
        "row (3 rows)"
    assert list(bs.resampling_unit(t, unit="row").codes) == [0, 1, 2]
    with pytest.raises(ConfigError, match="cannot resample by 'identity'"):
        bs.resampling_unit(t, unit="identity")


def test_weights_count_whole_clusters():
    cl = bs.Clusters(np.array([0, 0, 1, 2, 2, 2]), "identity")
    w = bs.cluster_weights(cl, 50, np.random.default_rng(0))
    assert w.shape == (50, 6)
    # rows of one cluster share a weight; K clusters drawn per resample
    assert (w[:, 0] == w[:, 1]).all() and (w[:, 3] == w[:, 5]).all()
    per_cluster = w[:, [0, 2, 3]]
    assert (per_cluster.sum(1) == 3).all()


def test_clustered_interval_does_not_shrink_when_rows_are_copied():
    # Five copies of each image carry no new information. A row bootstrap is fooled (its
    # interval narrows ~sqrt(5)); a bootstrap of the identity is not: it equals the interval
    # of the original rows exactly.
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    s = rng.random(80) + 0.3 * y
    ident = np.arange(80).astype(str)
    y5, s5, id5 = np.repeat(y, 5), np.repeat(s, 5), np.repeat(ident, 5)
    assert roc_auc(y5, s5) == pytest.approx(roc_auc_score(y, s))
    lo, hi = bootstrap_ci(roc_auc, y, s, n_boot=300, clusters=ident)
    lo5, hi5 = bootstrap_ci(roc_auc, y5, s5, n_boot=300, clusters=id5)
    assert (lo5, hi5) == pytest.approx((lo, hi))
    rlo, rhi = bootstrap_ci(roc_auc, y5, s5, n_boot=300, stratified=False)
    assert (rhi - rlo) < 0.6 * (hi - lo)


def test_paired_difference_is_tighter_than_unpaired_and_zero_for_equal_methods():
    rng = np.random.default_rng(1)
    n = 300
    y = rng.integers(0, 2, n)
    ident = (np.arange(n) // 3).astype(str)
    shared = rng.normal(0, 1, n)  # what both detectors see alike
    a = shared + 1.0 * y + rng.normal(0, 0.3, n)
    b = shared + 0.9 * y + rng.normal(0, 0.3, n)
    d, lo, hi = paired_difference_ci(roc_auc, y, a, b, clusters=ident, n_boot=300)
    assert d == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b))
    assert lo <= d <= hi
    alo, ahi = bootstrap_ci(roc_auc, y, a, n_boot=300, clusters=ident)
    assert hi - lo < 0.7 * (ahi - alo)
    assert paired_difference_ci(roc_auc, y, a, a, clusters=ident, n_boot=50) == (0.0, 0.0, 0.0)


def test_centred_interval_contains_a_max_min_estimate_the_percentile_one_misses():
    # max - min of four equal-rate groups: the estimate is small, the replicates are not
    rng = np.random.default_rng(2)
    hits = rng.random((4, 40)) < 0.5
    hits[:, :20], hits[:, 20:] = True, False  # every group exactly at 0.5: gap 0
    est = 0.0
    reps = []
    for _ in range(400):
        idx = rng.integers(0, 40, (4, 40))
        rates = np.take_along_axis(hits, idx, 1).mean(1)
        reps.append(rates.max() - rates.min())
    lo, hi = bs.interval(reps)
    assert lo > est  # the plain percentile interval lies wholly above its estimate
    clo, chi = bs.interval(reps, method="centred", estimate=est, bounds=(0, np.inf))
    assert clo <= est <= chi and chi - clo <= hi - lo + 1e-12
    assert bs.bias(reps, est) == pytest.approx(np.mean(reps))
    with pytest.raises(ConfigError):
        bs.interval(reps, method="bca")
