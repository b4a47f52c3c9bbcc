import numpy as np
import pytest
from sklearn import metrics as skm

from fakescope.metrics.detection import (
    average_precision,
    bootstrap_ci,
    detection_metrics,
    eer,
    roc_auc,
    roc_curve,
)


def _random(seed, n=300, ties=True):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.random(n) * 0.6 + 0.3 * y
    return y, (np.round(s, 2) if ties else s)


@pytest.mark.parametrize("seed", range(6))
def test_against_sklearn(seed):
    y, s = _random(seed, ties=seed % 2 == 0)
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    fpr, tpr, thr = roc_curve(y, s)
    f2, t2, th2 = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, f2)
    np.testing.assert_allclose(tpr, t2)
    np.testing.assert_allclose(thr[1:], th2[1:])
    m = detection_metrics(y, s, threshold=0.5)
    pred = (s >= 0.5).astype(int)
    assert m.acc == pytest.approx(skm.accuracy_score(y, pred))
    assert m.balanced_acc == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m.fake_acc == pytest.approx(skm.recall_score(y, pred))


@pytest.mark.parametrize("seed", range(4))
def test_eer_is_where_fpr_equals_fnr(seed):
    y, s = _random(seed, n=2000, ties=False)
    fpr, tpr, _ = skm.roc_curve(y, s)
    fnr = 1 - tpr
    i = np.nanargmin(np.abs(fnr - fpr))
    # the interpolated EER lies between FPR and FNR at the closest ROC point
    assert min(fpr[i], fnr[i]) - 1e-3 <= eer(y, s) <= max(fpr[i], fnr[i]) + 1e-3


def test_perfect_and_inverted():
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert eer(y, [0.1, 0.2, 0.8, 0.9]) == 0.0
    assert roc_auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert eer(y, [0.9, 0.8, 0.2, 0.1]) == 1.0


def test_degenerate_inputs_are_nan_not_crash():
    m = detection_metrics([1, 1, 1], [0.2, 0.6, 0.9])
    assert np.isnan(m.auc) and np.isnan(m.eer) and np.isnan(m.real_acc)
    assert m.fake_acc == pytest.approx(2 / 3)
    assert np.isnan(average_precision([0, 0], [0.1, 0.2]))
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([0, 1], [0.1, float("nan")])


def test_bootstrap_ci_contains_estimate_and_is_seeded():
    y, s = _random(0)
    lo, hi = bootstrap_ci(roc_auc, y, s, n_boot=300, seed=1)
    assert lo < roc_auc(y, s) < hi
    assert (lo, hi) == bootstrap_ci(roc_auc, y, s, n_boot=300, seed=1)
    clo, chi = bootstrap_ci(roc_auc, y, s, n_boot=300, seed=1, clusters=np.arange(len(y)) // 10)
    assert clo < roc_auc(y, s) < chi


def test_eer_nearest_point_matches_pgfdd_convention_and_differs_from_interpolated():
    from sklearn.metrics import roc_curve as sk_roc

    from fakescope.metrics.detection import eer, eer_nearest

    rng = np.random.default_rng(5)
    for n in (12, 40, 500):
        y = rng.integers(0, 2, n)
        y[:2] = [0, 1]
        s = np.round(rng.random(n) + 0.4 * y, 1)  # few distinct scores
        fpr, tpr, _ = sk_roc(y, s, pos_label=1)
        ref = fpr[np.nanargmin(np.abs((1 - tpr) - fpr))]  # PG-FDD's classification_metrics
        assert eer_nearest(y, s) == pytest.approx(ref)
    # a case where the two conventions differ: the crossing lies between two ROC points
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.1, 0.6, 0.7, 0.4, 0.8, 0.9])
    assert eer(y, s) == pytest.approx(1 / 3) and eer_nearest(y, s) == pytest.approx(1 / 3)
    y2 = np.array([0, 0, 0, 1, 1])
    s2 = np.array([0.6, 0.9, 0.5, 0.6, 0.9])  # ROC points (1/3, 1/2), (2/3, 1): crossing at 0.4
    assert eer(y2, s2) == pytest.approx(0.4) and eer_nearest(y2, s2) == pytest.approx(1 / 3)
    assert detection_metrics(y2, s2).eer_nearest == pytest.approx(eer_nearest(y2, s2))
