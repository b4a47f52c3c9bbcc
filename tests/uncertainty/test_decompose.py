import numpy as np
import pytest
import torch

from fakescope.errors import DataError
from fakescope.uncertainty.decompose import decompose, entropy, uncertainty_columns


def test_identical_passes_have_zero_epistemic_and_variance():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=5)
    d = decompose(np.repeat(p[None], 7, axis=0))
    np.testing.assert_allclose(d["epistemic"], 0.0, atol=1e-12)
    np.testing.assert_allclose(d["variance"], 0.0, atol=1e-12)
    np.testing.assert_allclose(d["total"], d["aleatoric"])


def test_uniform_total_is_log_c():
    for c in (2, 5):
        d = decompose(np.full((4, 3, c), 1.0 / c))
        np.testing.assert_allclose(d["total"], np.log(c))
        np.testing.assert_allclose(d["aleatoric"], np.log(c))
        np.testing.assert_allclose(d["epistemic"], 0.0, atol=1e-12)


def test_disagreeing_confident_passes_are_all_epistemic():
    # two one-hot passes that disagree: mean is uniform (total = log 2), each pass has H = 0
    p = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    d = decompose(p)
    assert d["total"][0] == pytest.approx(np.log(2))
    assert d["aleatoric"][0] == pytest.approx(0.0)
    assert d["epistemic"][0] == pytest.approx(np.log(2))
    assert d["variance"][0] == pytest.approx(0.25)  # P(fake) in {0, 1}
    assert d["p_fake"][0] == pytest.approx(0.5)


def test_hand_computed_binary_case():
    # passes P(fake) = 0.2 and 0.6: mean 0.4
    p = np.array([[[0.8, 0.2]], [[0.4, 0.6]]])
    h = lambda q: -(q * np.log(q) + (1 - q) * np.log(1 - q))  # noqa: E731
    d = decompose(torch.tensor(p))
    assert d["total"][0] == pytest.approx(h(0.4))
    assert d["aleatoric"][0] == pytest.approx((h(0.2) + h(0.6)) / 2)
    assert d["epistemic"][0] == pytest.approx(h(0.4) - (h(0.2) + h(0.6)) / 2)
    assert d["variance"][0] == pytest.approx(np.var([0.2, 0.6]))
    assert d["variance_classes"][0] == pytest.approx(np.var([0.2, 0.6]))


def test_entropy_matches_scipy_and_bounds():
    from scipy.stats import entropy as sp_entropy

    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(4), size=(6, 10))
    np.testing.assert_allclose(entropy(p), sp_entropy(p, axis=-1))
    d = decompose(p)
    assert np.all(d["epistemic"] >= 0) and np.all(d["total"] <= np.log(4) + 1e-12)
    assert np.all(d["aleatoric"] <= d["total"] + 1e-12)
    assert entropy(np.array([1.0, 0.0])) == 0.0


def test_multiclass_p_fake_and_columns():
    p = np.array([[[0.5, 0.3, 0.2]], [[0.1, 0.6, 0.3]]])
    cols = uncertainty_columns(p)
    assert cols["p_fake"][0] == pytest.approx(1 - 0.3)
    assert set(cols) == {"unc_total", "unc_aleatoric", "unc_epistemic", "unc_variance", "p_fake"}
    assert cols["unc_variance"][0] == pytest.approx(np.var([0.5, 0.9]))


def test_bad_shapes_raise():
    with pytest.raises(DataError):
        decompose(np.ones((2, 3)) [None, :, :1])
    with pytest.raises(DataError):
        decompose(np.full((1, 2, 2), np.nan))
