"""The Mahalanobis OOD statistics against independent computations (SciPy, scikit-learn)."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import mahalanobis
from sklearn.covariance import LedoitWolf

from fakescope.errors import DataError
from fakescope.models.checkpoint import read_meta, save_detector
from fakescope.uncertainty.ood import (
    dataset_features,
    features,
    fit_mahalanobis,
    load_ood,
    save_ood,
)


def _blobs(rng, n=200, d=6):
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, d)) + np.where(y[:, None] == 1, 3.0, 0.0)
    return x, y


def test_distances_match_scipy_and_threshold_is_the_validation_quantile():
    rng = np.random.default_rng(0)
    x, y = _blobs(rng)
    v, _ = _blobs(rng, 100)
    stats = fit_mahalanobis(x, y, v, quantile=0.9, class_names=["real", "fake"])
    means = np.stack([x[y == c].mean(0) for c in (0, 1)])
    lw = LedoitWolf(assume_centered=True).fit(x - means[y])
    probe = rng.normal(size=(5, 6)) * 4
    want = [min(mahalanobis(p, m, lw.precision_) for m in means) for p in probe]
    [layer] = stats.layers
    assert np.allclose(layer.distance(probe), want, rtol=1e-4)
    assert layer.scale == pytest.approx(np.quantile(layer.distance(v), 0.9))
    assert np.allclose(stats.score(probe), layer.distance(probe) / layer.scale / stats.threshold)
    assert np.mean(stats.score(v) > 1) == pytest.approx(0.1, abs=0.011)
    assert stats.info["n_fit"] == {"real": int((y == 0).sum()), "fake": int((y == 1).sum())}


def test_far_inputs_score_high_and_bad_input_is_refused():
    rng = np.random.default_rng(1)
    x, y = _blobs(rng)
    stats = fit_mahalanobis(x, y, _blobs(rng, 50)[0])
    assert (stats.score(x[:20] + 30) > 1).all()
    with pytest.raises(DataError, match="validation"):
        fit_mahalanobis(x, y, np.zeros((0, 6)))
    with pytest.raises(DataError, match="NaN"):
        fit_mahalanobis(np.full_like(x, np.nan), y, x)


def test_save_load_round_trip_and_a_resave_drops_stale_statistics(tmp_path, tiny_detector):
    folder = save_detector(tiny_detector, tmp_path / "ckpt")
    assert load_ood(folder) is None
    rng = np.random.default_rng(2)
    f = features(tiny_detector, torch.rand(40, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    stats = fit_mahalanobis(f, rng.integers(0, 2, 40), f[:10])
    save_ood(folder, stats, fitted_on="a test")
    back = load_ood(folder)
    assert back.threshold == pytest.approx(stats.threshold)
    assert np.allclose(back.score(f), stats.score(f), rtol=1e-5)
    assert read_meta(folder)["ood"]["fitted_on"] == "a test"
    save_detector(tiny_detector, folder)  # new weights: the old statistics no longer apply
    assert load_ood(folder) is None


def test_dataset_features_turn_augmentation_off(toy_manifest):
    from fakescope.data.dataset import ManifestDataset
    from fakescope.data.manifest import read_manifest
    from fakescope.models import create_detector

    torch.manual_seed(0)
    model = create_detector("tiny", image_size=32).eval()
    ds = ManifestDataset(read_manifest(toy_manifest), image_size=32, augment=True)
    a, ya = dataset_features(model, ds, batch_size=16, limit=30)
    b, _ = dataset_features(model, ds, batch_size=16, limit=30)
    assert a["penultimate"].shape == (30, model.feature_dim) and ds.augment
    assert all(np.allclose(a[k], b[k]) for k in a) and set(ya) <= {0, 1}
    stages = [k for k in a if k.startswith("stage")]
    assert stages and all(a[k].shape[0] == 30 for k in stages)  # a CNN: one entry per stage


def test_stage_features_are_the_spatial_means_of_each_resolution(tiny_detector, images):
    from fakescope.uncertainty.ood import layer_features

    seen = {}
    hooks = [m.register_forward_hook(lambda m, i, o: seen.__setitem__(tuple(o.shape[-2:]), o)
                                     if o.ndim == 4 and o.shape[-1] * o.shape[-2] > 1 else None)
             for m in tiny_detector.backbone.modules() if m is not tiny_detector.backbone]
    with torch.no_grad():
        tiny_detector.features(images)
    for h in hooks:
        h.remove()
    got = layer_features(tiny_detector, images, batch_size=4)
    for k, hw in enumerate(sorted(seen, key=lambda hw: -hw[0] * hw[1])):
        assert np.allclose(got[f"stage{k}_{hw[0]}x{hw[1]}"], seen[hw].mean((2, 3)).numpy(),
                           atol=1e-6)


def test_an_unseen_input_distribution_is_flagged_from_the_stages(toy_checkpoint):
    """The toy detector's own training statistics: its test images pass, inverted ones fail."""
    from fakescope.data.dataset import ManifestDataset
    from fakescope.data.manifest import read_manifest, select_split
    from fakescope.models.checkpoint import load_detector

    model, meta = load_detector(toy_checkpoint / "best")
    stats = load_ood(toy_checkpoint / "best")
    assert len(stats.layers) > 1 and meta["ood"]["quantile"] == 0.95
    rows = read_manifest(meta["training_data"]["manifest"])
    x = torch.stack([ManifestDataset(select_split(rows, "test"), image_size=32)[i]["image"]
                     for i in range(24)])
    from fakescope.uncertainty.ood import layer_features

    inside = stats.score(layer_features(model, x)) <= 1
    outside = stats.score(layer_features(model, 1 - x)) <= 1
    assert inside.mean() >= 0.75 and outside.mean() <= 0.1
