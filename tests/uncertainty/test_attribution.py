import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score

from fakescope.errors import DataError
from fakescope.uncertainty.attribution import (
    attribution_cv,
    compare_attribution,
    prediction_metrics,
    region_features,
    uncertainty_features,
)


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(["real", "gan", "swap", "blend"] * (n // 4))
    centres = {"real": 0, "gan": 1, "swap": 2, "blend": 3}
    signal = np.array([centres[v] for v in y], float)
    X = np.stack([signal + rng.normal(0, 0.1, n), rng.normal(size=n)], 1)
    return X, y


def test_separable_features_give_high_balanced_accuracy_and_noise_chance():
    X, y = _data()
    r = attribution_cv(X, y, folds=4)
    assert r.balanced_accuracy > 0.9
    assert r.confusion.to_numpy().sum() == len(y)
    assert r.balanced_accuracy == pytest.approx(balanced_accuracy_score(y, r.predictions))
    noise = np.random.default_rng(1).normal(size=(40, 2))
    assert attribution_cv(noise, y, folds=4).balanced_accuracy < 0.6
    g = attribution_cv(X, y, folds=4, classifier="gbm", groups=np.arange(40) // 2)
    assert 0 <= g.balanced_accuracy <= 1


def test_prediction_metrics_hand_computed():
    r = prediction_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert r.balanced_accuracy == pytest.approx((0.5 + 1.0) / 2)
    assert r.confusion.loc["a", "b"] == 1 and r.confusion.loc["b", "b"] == 2


def test_feature_builders_and_compare():
    probs = np.random.default_rng(0).dirichlet(np.ones(2), size=(3, 40))
    f = uncertainty_features(probs, prefix="r18")
    assert list(f.columns) == ["r18:p_fake", "r18:total", "r18:aleatoric", "r18:epistemic",
                               "r18:variance"]
    t = pd.DataFrame({"region": ["a", "b"], "delta_p_fake": [0.1, -0.3],
                      "delta_epistemic": [0.0, 0.2]})
    rf = region_features([t], prefix="x")
    assert rf["x:delta_p_fake_min"].iloc[0] == -0.3
    X, y = _data()
    table, res = compare_attribution({"unc": X, "noise": X[:, 1:]}, y, folds=4,
                                     end_to_end=y)
    assert list(table["features"]) == ["unc", "noise", "end_to_end"]
    assert table.loc[2, "balanced_accuracy"] == 1.0
    with pytest.raises(DataError):
        attribution_cv(X[:5], y[:5])
