import pytest
import torch
from torch import nn

from fakescope.errors import ConfigError, ModelError
from fakescope.models import create_detector
from fakescope.models.checkpoint import save_detector
from fakescope.models.predict import (
    _repeat_heads,
    augment,
    mc_dropout,
    mc_mode,
    predict_samples,
    tta_params,
)


def _det(images, model):
    with torch.no_grad():
        return model(images)["detect"].softmax(-1)


@pytest.mark.parametrize("method", ["mc", "mc_head", "tta"])
def test_shapes_probabilities_and_seed(tiny_detector, images, method):
    p = predict_samples(tiny_detector, images, method=method, samples=5, seed=3, batch_size=4)
    assert p.shape == (5, 6, 2) and p.dtype == torch.float32
    torch.testing.assert_close(p.sum(-1), torch.ones(5, 6))
    q = predict_samples(tiny_detector, images, method=method, samples=5, seed=3, batch_size=4)
    assert torch.equal(p, q)
    assert not torch.allclose(p[1], p[2])  # passes differ
    r = predict_samples(tiny_detector, images, method=method, samples=5, seed=4, batch_size=4)
    assert not torch.equal(p, r) or method == "tta" and torch.equal(p[0], r[0])


def test_none_equals_deterministic_forward(tiny_detector, images):
    p = predict_samples(tiny_detector, images, method="none")
    assert p.shape == (1, 6, 2)
    torch.testing.assert_close(p[0], _det(images, tiny_detector))


def test_repeat_layout_matches_deterministic_when_dropout_off(tiny_detector, images):
    with torch.no_grad():
        p = _repeat_heads(tiny_detector, images, 4, "detect")  # eval: dropout inactive
    torch.testing.assert_close(p, _det(images, tiny_detector).expand(4, -1, -1))


def test_mc_head_and_full_mc_estimate_the_same_mean(tiny_detector, images):
    # the tiny detector's only dropout is the head dropout: both sample one distribution
    a = predict_samples(tiny_detector, images[:2], method="mc_head", samples=400, seed=0).mean(0)
    b = predict_samples(tiny_detector, images[:2], method="mc", samples=400, seed=1).mean(0)
    torch.testing.assert_close(a, b, atol=0.03, rtol=0)


def test_mc_keeps_batchnorm_in_eval_and_restores_modes(tiny_detector, images):
    bn = next(m for m in tiny_detector.modules() if isinstance(m, nn.BatchNorm2d))
    before = bn.running_mean.clone()
    tiny_detector.train()
    predict_samples(tiny_detector, images, method="mc", samples=3)
    assert torch.equal(bn.running_mean, before)
    assert all(m.training for m in tiny_detector.modules())
    seen = []
    with mc_mode(tiny_detector, [tiny_detector.head_dropout]):
        seen = [m.training for m in tiny_detector.modules()]
    assert sum(seen) == 1


def test_global_rng_untouched(tiny_detector, images):
    torch.manual_seed(7)
    a = torch.rand(3)
    torch.manual_seed(7)
    predict_samples(tiny_detector, images, method="mc_head", samples=4, seed=0)
    assert torch.equal(torch.rand(3), a)


def test_ensemble_from_models_and_checkpoints(tmp_path, images):
    models = []
    for s in range(3):
        torch.manual_seed(s)
        m = create_detector("tiny", image_size=32).eval()
        models.append(m)
    save_detector(models[2], tmp_path / "m2")
    p = predict_samples([models[0], models[1], tmp_path / "m2"], images, method="ensemble",
                        samples=99)
    assert p.shape == (3, 6, 2)
    for i, m in enumerate(models):
        torch.testing.assert_close(p[i], _det(images, m))


def test_tta_identity_first_and_augment():
    assert tta_params(4, 0)[0] == (False, 0.0, 0.0, 1.0)
    x = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(augment(x, False, 0.0, 0.0, 1.0), x)
    torch.testing.assert_close(augment(x, True, 0.0, 0.0, 1.0), x.flip(-1))
    # a shift of 2/8 in [-1, 1] units moves the content by one pixel
    y = augment(x, False, 0.25, 0.0, 1.0)
    torch.testing.assert_close(y[..., :, :-1], x[..., :, 1:])


def test_mc_dropout_wrapper(tiny_detector, images):
    w = mc_dropout(tiny_detector, 8)
    torch.manual_seed(0)
    out = w(images)
    assert out.shape == (8, 6, 2)
    assert not torch.allclose(out[0], out[1])
    full = mc_dropout(tiny_detector, 3, head_only=False)
    assert full(images).shape == (3, 6, 2)


def test_errors(tiny_detector, images):
    no_drop = create_detector("tiny", dropout=0.0, image_size=32)
    with pytest.raises(ModelError):
        predict_samples(no_drop, images, method="mc_head")
    with pytest.raises(ModelError):
        predict_samples(no_drop, images, method="mc")
    with pytest.raises(ModelError):
        predict_samples(tiny_detector, images, method="bnn")
    with pytest.raises(ConfigError):
        predict_samples(tiny_detector, images, method="magic")
    with pytest.raises(ConfigError):
        predict_samples([tiny_detector, tiny_detector], images, method="mc")


def test_iterable_of_batches_equals_tensor(tiny_detector, images):
    batches = [{"image": images[:4]}, {"image": images[4:]}]
    a = predict_samples(tiny_detector, batches, method="none")
    torch.testing.assert_close(a, predict_samples(tiny_detector, images, method="none"))
    b = predict_samples(tiny_detector, images.numpy(), method="mc_head", samples=3, batch_size=2)
    assert b.shape == (3, 6, 2)


def test_full_network_mc_samples_backbone_dropout_and_says_when_it_cannot(images, tmp_path):
    import warnings

    from fakescope.models import create_detector
    from fakescope.models.checkpoint import load_detector, save_detector
    from fakescope.models.predict import SameAsHeadWarning, dropout_modules
    from fakescope.models.stage_dropout import StageDropout, backbone_stages

    torch.manual_seed(0)
    head_only = create_detector("resnet18", dropout=0.3, image_size=32).eval()
    with pytest.warns(SameAsHeadWarning, match="samples what 'mc_head' samples"):
        predict_samples(head_only, images[:2], method="mc", samples=2)
    torch.manual_seed(0)
    deep = create_detector("resnet18", dropout=0.3, backbone_dropout=0.2, image_size=32).eval()
    stages = backbone_stages(deep.backbone)
    assert len(stages) == 5 and stages[-1] is deep.backbone.layer4  # stem + layer1..4
    assert sum(isinstance(m, StageDropout) for m in dropout_modules(deep)) == 5
    # same weights, so the mean passes differ only by the backbone dropout
    deep.load_state_dict(head_only.state_dict())
    torch.testing.assert_close(deep(images)["detect"], head_only(images)["detect"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", SameAsHeadWarning)
        full = predict_samples(deep, images[:3], method="mc", samples=60, seed=0)
    head = predict_samples(deep, images[:3], method="mc_head", samples=60, seed=0)
    assert full[..., 1].var(0).mean() > 2 * head[..., 1].var(0).mean()
    # BatchNorm stays in eval mode while the stage dropout samples
    assert not any(m.training for m in deep.modules())
    # the checkpoint rebuilds the stage dropout
    save_detector(deep, tmp_path / "ckpt", {})
    back, _ = load_detector(tmp_path / "ckpt")
    assert back.backbone_dropout == 0.2 and len(back.stage_dropout) == 5


def test_mc_samples_functional_dropout_and_drop_path(images):
    from fakescope.models import create_detector

    torch.manual_seed(0)
    # timm's EfficientNet-B0 calls F.dropout(drop_rate) after pooling; its blocks use DropPath
    m = create_detector("timm:efficientnet_b0", dropout=0.0, image_size=32,
                        drop_rate=0.3, drop_path_rate=0.2).eval()
    from fakescope.models.predict import dropout_modules

    kinds = {type(d).__name__ for d in dropout_modules(m)}
    assert "DropPath" in kinds and "EfficientNet" in kinds
    p = predict_samples(m, images[:2], method="mc", samples=8, seed=0)
    assert p[..., 1].var(0).min() > 0
    assert not any(mod.training for mod in m.modules())
