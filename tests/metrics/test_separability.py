import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import silhouette_score

from fakescope.metrics.separability import (
    backbone_separability,
    projection_plot,
    purity,
    rank_correlation,
    standardize,
)


def _clusters(n_per=30, d=8, sep=20.0, seed=0):
    """Three well separated blobs: real, fake gen_a, fake gen_b."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, d)) * sep
    x = np.concatenate([c + rng.normal(size=(n_per, d)) for c in centres])
    src = np.repeat(["real", "gen_a", "gen_b"], n_per)
    y = (src != "real").astype(int)
    return x, y, src


def test_purity_hand_case():
    true = np.array([0, 0, 0, 1, 1, 1])
    pred = np.array([5, 5, 7, 7, 7, 7])  # cluster 5: {0,0}; cluster 7: {0,1,1,1}
    assert purity(true, pred) == pytest.approx((2 + 3) / 6)
    assert purity(true, true) == 1.0


def test_standardize_unit_variance_and_constant_column():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    z = standardize(x)
    np.testing.assert_allclose(z[:, 0], [-1.2247448714, 0.0, 1.2247448714])
    np.testing.assert_array_equal(z[:, 1], 0.0)


def test_perfect_clusters_give_ami_one():
    x, y, src = _clusters()
    r = backbone_separability(x, y, src, pca=None, n_boot=0, seed=0)
    assert r.ami_source == pytest.approx(1.0)
    assert r.ari_source == pytest.approx(1.0)
    assert r.purity_source == 1.0
    assert r.probe_auc == pytest.approx(1.0)
    assert r.knn_accuracy == 1.0
    assert r.n_sources == 3


def test_two_blobs_binary_ami_one_and_silhouette_matches_sklearn():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(size=(40, 5)), rng.normal(size=(40, 5)) + 15])
    y = np.repeat([0, 1], 40)
    r = backbone_separability(x, y, pca=None, n_boot=0)
    assert r.ami_binary == pytest.approx(1.0)
    assert r.silhouette == pytest.approx(silhouette_score(standardize(x), y))


def test_label_independent_noise_is_near_zero():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 16))
    y = rng.integers(0, 2, 300)
    src = np.where(y == 1, rng.choice(["a", "b"], 300), "real")
    r = backbone_separability(x, y, src, n_boot=0, seed=0)
    assert abs(r.ami_binary) < 0.05 and abs(r.ami_source) < 0.05
    assert abs(r.ari_binary) < 0.05
    assert abs(r.silhouette) < 0.05
    assert abs(r.probe_auc - 0.5) < 0.12
    assert abs(r.knn_accuracy - 0.5) < 0.12


def test_invariant_to_per_feature_scaling():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(120, 10))
    y = rng.integers(0, 2, 120)
    x[y == 1, :3] += 1.5  # partly separable
    scale = rng.uniform(0.01, 100.0, size=10)
    a = backbone_separability(x, y, pca=5, n_boot=20, seed=4)
    b = backbone_separability(x * scale + 7.0, y, pca=5, n_boot=20, seed=4)
    for m in ("ami_binary", "ari_binary", "purity_binary", "silhouette", "probe_auc",
              "knn_accuracy"):
        assert getattr(a, m) == pytest.approx(getattr(b, m), abs=1e-6), m
        np.testing.assert_allclose(a.ci[m], b.ci[m], atol=1e-6)


def test_deterministic_under_seed_and_ci_brackets_point():
    x, y, src = _clusters(n_per=20, sep=1.0, seed=5)
    groups = np.arange(len(y)) // 2
    a = backbone_separability(x, y, src, groups=groups, n_boot=30, seed=7)
    b = backbone_separability(x, y, src, groups=groups, n_boot=30, seed=7)
    assert a.as_row() == b.as_row()
    lo, hi = a.ci["probe_auc"]
    assert lo <= a.probe_auc <= hi
    assert set(a.as_row()) >= {"ami_binary_lo", "knn_accuracy_hi"}


def test_rank_correlation_against_scipy_and_monotone_cases():
    x = np.array([0.1, 0.4, 0.35, 0.8, 0.9, 0.2])
    y = np.array([0.5, 0.7, 0.75, 0.85, 0.95, 0.55])
    r = rank_correlation(x, y, n_boot=200, seed=0)
    assert r["rho"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert r["ci_low"] <= r["rho"] <= r["ci_high"]
    assert rank_correlation(x, 2 * x + 1, n_boot=10)["rho"] == pytest.approx(1.0)
    assert rank_correlation(x, -x, n_boot=10)["rho"] == pytest.approx(-1.0)
    assert np.isnan(rank_correlation(x[:2], y[:2])["rho"])
    assert rank_correlation(x, y, n_boot=50, seed=3) == rank_correlation(x, y, n_boot=50, seed=3)


def test_projection_plot_writes_same_png_for_same_seed(tmp_path):
    x, _, src = _clusters(n_per=10)
    a = projection_plot(x, src, tmp_path / "a.png", title="t", method="pca")
    b = projection_plot(x, src, tmp_path / "b.png", title="t", method="pca")
    assert a.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert a.read_bytes() == b.read_bytes()


def test_intervals_contain_their_estimates():
    # With replacement, duplicated points (distance 0) inflated silhouette and agreement and the
    # estimates fell below their own intervals; subsamples hold each point at most once.
    rng = np.random.default_rng(11)
    for seed in range(2):
        x = rng.normal(size=(160, 12))
        y = np.repeat([0, 1], 80)
        x[y == 1, :4] += 0.8  # partly separable
        src = np.where(y == 1, np.where(np.arange(160) % 2, "a", "b"), "real")
        r = backbone_separability(x, y, src, groups=np.arange(160) // 2, n_boot=40, seed=seed)
        for m, (lo, hi) in r.ci.items():
            assert lo <= getattr(r, m) <= hi, (seed, m, getattr(r, m), lo, hi)
        assert r.resampled == "identity (40 of 80 per draw, without replacement)"


def test_draws_are_without_replacement_and_refit_the_preprocessing(monkeypatch):
    from fakescope.metrics import separability as sep

    codes = np.repeat(np.arange(10), 3)
    for idx in sep._draws(codes, 5, 20, np.random.default_rng(0)):
        assert len(idx) == 15 and len(np.unique(idx)) == 15
        assert len(np.unique(codes[idx])) == 5
    calls = []
    real = sep.standardize
    monkeypatch.setattr(sep, "standardize", lambda x: calls.append(len(x)) or real(x))
    x, y, src = _clusters(n_per=12, sep=2.0)
    sep.backbone_separability(x, y, src, n_boot=7, seed=0)
    assert calls == [36] + [18] * 7  # once on all rows, then on every half-sample


def test_chance_levels_follow_the_class_shares():
    # real:fake = 1:3 (three generators): one cluster already has purity 0.75, not 0.5
    rng = np.random.default_rng(4)
    y = np.repeat([0, 1], [50, 150])
    src = np.concatenate([["real"] * 50, np.repeat(["a", "b", "c"], 50)])
    x = rng.normal(size=(200, 6))
    r = backbone_separability(x, y, src, n_boot=0)
    assert r.chance["purity_binary"] == pytest.approx(0.75)
    assert r.chance["purity_source"] == pytest.approx(0.25)
    assert r.chance["ami_binary"] == 0.0 and r.chance["probe_auc"] == 0.5
    assert r.purity_binary >= 0.75  # purity can never be below the largest class share
    row = r.as_row()
    assert row["purity_binary_chance"] == pytest.approx(0.75)
    assert row["knn_accuracy_chance"] == pytest.approx(0.75)
