import numpy as np
import pytest
import torch
from sklearn.metrics import brier_score_loss, log_loss
from torchmetrics.functional.classification import (
    binary_calibration_error,
    multiclass_calibration_error,
)

from fakescope.errors import DataError
from fakescope.metrics import calibration as cal


def _binary(n=500, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.001, 0.999, n)
    y = (rng.uniform(size=n) < p ** 1.5).astype(int)
    return p, y


def _multi(n=400, c=4, seed=1):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, c)) * 2
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = rng.integers(0, c, n)
    return p, y


@pytest.mark.parametrize("n_bins", [5, 10, 15])
def test_binary_ece_mce_match_torchmetrics(n_bins):
    p, y = _binary()
    pt, yt = torch.tensor(p), torch.tensor(y)
    ref_ece = binary_calibration_error(pt, yt, n_bins=n_bins, norm="l1").item()
    ref_mce = binary_calibration_error(pt, yt, n_bins=n_bins, norm="max").item()
    assert cal.ece(p, y, kind="p_fake", n_bins=n_bins) == pytest.approx(ref_ece, abs=1e-9)
    assert cal.mce(p, y, kind="p_fake", n_bins=n_bins) == pytest.approx(ref_mce, abs=1e-9)


@pytest.mark.parametrize("n_bins", [5, 15])
def test_top_label_ece_matches_torchmetrics_multiclass(n_bins):
    p, y = _multi()
    pt, yt = torch.tensor(p), torch.tensor(y)
    ref = multiclass_calibration_error(pt, yt, num_classes=4, n_bins=n_bins, norm="l1").item()
    ref_max = multiclass_calibration_error(pt, yt, num_classes=4, n_bins=n_bins, norm="max").item()
    assert cal.ece(p, y, kind="top_label", n_bins=n_bins) == pytest.approx(ref, abs=1e-6)
    assert cal.mce(p, y, kind="top_label", n_bins=n_bins) == pytest.approx(ref_max, abs=1e-6)


def test_brier_and_nll_match_sklearn():
    p, y = _binary()
    assert cal.brier(p, y) == pytest.approx(brier_score_loss(y, p))
    assert cal.nll(p, y) == pytest.approx(log_loss(y, p))
    pm, ym = _multi()
    assert cal.nll(pm, ym) == pytest.approx(log_loss(ym, pm, labels=list(range(4))))
    onehot = np.eye(4)[ym]
    assert cal.brier(pm, ym) == pytest.approx(np.mean(((pm - onehot) ** 2).sum(1)))
    assert cal.brier(pm, ym) == pytest.approx(brier_score_loss(ym, pm, labels=list(range(4))))


def test_hand_computed_ece_and_last_bin_closed():
    # two bins: [0, .5) holds p=.2,.4 (no fakes), [.5, 1] holds p=.8, 1.0 (one fake)
    p = np.array([0.2, 0.4, 0.8, 1.0])
    y = np.array([0, 0, 1, 0])
    t = cal.reliability_table(p, y, n_bins=2)
    assert t["count"].tolist() == [2, 2]  # 1.0 lands in the closed last bin
    assert cal.ece(p, y, n_bins=2) == pytest.approx(0.5 * 0.3 + 0.5 * 0.4)
    assert cal.mce(p, y, n_bins=2) == pytest.approx(0.4)


def test_equal_mass_bins_and_top_label_on_binary():
    p, y = _binary(n=103)
    idx = cal.bin_indices(p, n_bins=10, strategy="quantile")
    counts = np.bincount(idx)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 103
    # sorted confidences give non-decreasing bin ids
    assert np.all(np.diff(idx[np.argsort(p, kind="stable")]) >= 0)
    # top-label on (N,) P(fake) equals the multiclass convention on [1-p, p]
    two = np.stack([1 - p, p], 1)
    ref = multiclass_calibration_error(torch.tensor(two), torch.tensor(y), num_classes=2,
                                       n_bins=10, norm="l1").item()
    assert cal.ece(p, y, kind="top_label", n_bins=10) == pytest.approx(ref, abs=1e-6)


def test_perfect_calibration_has_zero_ece():
    p = np.repeat([0.25, 0.75], 4)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert cal.ece(p, y, n_bins=4) == pytest.approx(0.0)


def test_temperature_scaling_recovers_temperature_and_improves_nll():
    rng = np.random.default_rng(3)
    true = rng.normal(size=(2000, 3)) * 1.5
    probs = np.exp(true) / np.exp(true).sum(1, keepdims=True)
    y = np.array([rng.choice(3, p=q) for q in probs])
    over = true * 3.0  # overconfident logits: the right temperature is 3
    t = cal.fit_temperature(over, y)
    assert t == pytest.approx(3.0, rel=0.15)
    before = cal.nll(cal.apply_temperature(over, 1.0), y)
    after = cal.nll(cal.apply_temperature(over, t), y)
    assert after < before
    # the fitted T is a minimum of the validation NLL
    for d in (0.9, 1.1):
        assert after <= cal.nll(cal.apply_temperature(over, t * d), y) + 1e-9
    # logits unrelated to the labels: T goes to the upper bound, not to infinity
    noise = rng.normal(size=(500, 2))
    assert cal.fit_temperature(noise, rng.integers(0, 2, 500)) <= cal.T_RANGE[1]


def test_summary_plot_and_errors(tmp_path):
    p, y = _binary(n=60)
    rows = cal.calibration_summary(p, y, n_bins=5)
    assert {(r.kind, r.strategy) for r in rows} == {(k, s) for k in cal.KINDS for s in cal.STRATEGIES}
    png = cal.plot_reliability(cal.reliability_table(p, y, n_bins=5), tmp_path / "r.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(DataError):
        cal.ece(p, y, kind="nope")
    with pytest.raises(DataError):
        cal.ece(p, y[:3])
    with pytest.raises(DataError):
        cal.ece(p + 2, y)
