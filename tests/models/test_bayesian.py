import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal
from torch.distributions import kl_divergence as torch_kl

from fakescope.errors import ModelError
from fakescope.models import create_detector
from fakescope.models.bayesian import (
    BayesConv2d,
    BayesLinear,
    BayesLoss,
    bayes_modules,
    bayes_sampling,
    bayesianize,
    kl_divergence,
)
from fakescope.models.checkpoint import load_detector, save_detector
from fakescope.models.predict import predict_samples
from fakescope.train.losses import create_loss


@pytest.fixture
def images():
    return torch.rand(5, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def _tiny():
    torch.manual_seed(0)
    return create_detector("tiny", image_size=32).eval()


def test_kl_matches_torch_distributions():
    torch.manual_seed(0)
    layer = BayesLinear(4, 3, prior_sigma=0.7, posterior_sigma=0.2)
    with torch.no_grad():
        layer.weight_rho.normal_()
    ref = sum(torch_kl(Normal(mu, F.softplus(rho)), Normal(0.0, 0.7)).sum()
              for mu, rho in [(layer.weight_mu, layer.weight_rho), (layer.bias_mu, layer.bias_rho)])
    torch.testing.assert_close(layer.kl(), ref)
    # posterior equal to the prior has zero KL
    eq = BayesLinear(2, 2, prior_sigma=0.5, posterior_sigma=0.5, weight=torch.zeros(2, 2),
                     bias_init=torch.zeros(2))
    assert eq.kl().item() == pytest.approx(0.0, abs=1e-6)


def test_local_reparameterisation_moments():
    torch.manual_seed(0)
    layer = BayesLinear(3, 2, posterior_sigma=0.3)
    x = torch.tensor([[1.0, -2.0, 0.5]]).expand(40000, 3)
    with torch.no_grad(), bayes_sampling(layer):
        out = layer(x)
    mean = x[0] @ layer.weight_mu.T + layer.bias_mu
    var = (x[0] ** 2) @ (0.3 ** 2 * torch.ones(3, 2)) + 0.3 ** 2
    torch.testing.assert_close(out.mean(0), mean.detach(), atol=0.02, rtol=0)
    torch.testing.assert_close(out.var(0), var, atol=0.03, rtol=0.05)
    # eval without sampling: the posterior mean, deterministic
    with torch.no_grad():
        layer.eval()
        torch.testing.assert_close(layer(x[:2]), mean.detach().expand(2, 2))


def test_bayes_conv_mean_equals_conv():
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 4, 3, padding=1, groups=2)
    b = BayesConv2d(conv).eval()
    x = torch.randn(2, 4, 6, 6)
    torch.testing.assert_close(b(x), conv(x))
    with bayes_sampling(b):
        assert not torch.allclose(b(x), conv(x))


def _pooled_variance_exact(conv_layer: BayesConv2d, x: torch.Tensor) -> torch.Tensor:
    """Var over q(w) of the spatially pooled output ``(C_out,)`` for one input ``(1, C, H, W)``:
    pooled(w) is linear in w, so Var = sum_k A_k^2 sigma_k^2 + sigma_b^2 with A = d pooled/d w."""
    w = conv_layer.weight_mu.detach().clone().requires_grad_(True)
    pooled = F.conv2d(x, w, None, conv_layer.stride, conv_layer.padding, conv_layer.dilation,
                      conv_layer.groups).mean((2, 3))
    (grad,) = torch.autograd.grad(pooled.sum(), w)  # row c of w feeds output c only
    ws, bs = conv_layer._sigmas()
    return ((grad ** 2) * ws.detach() ** 2).flatten(1).sum(1) + bs.detach() ** 2


@pytest.mark.parametrize("groups", [1, 2])
def test_bayes_conv_samples_one_weight_per_example_not_per_position(groups):
    # A weight is shared by every position of an image: after global pooling the output's
    # variance must be that of one weight draw, not ~H*W times smaller (independent noise per
    # position, the local reparameterisation trick's error in a convolution).
    torch.manual_seed(0)
    layer = BayesConv2d(nn.Conv2d(4, 6, 3, padding=1, groups=groups), posterior_sigma=0.2).eval()
    x = torch.randn(1, 4, 12, 12)
    exact = _pooled_variance_exact(layer, x)
    with torch.no_grad(), bayes_sampling(layer):
        draws = torch.cat([layer(x.expand(8, -1, -1, -1)).mean((2, 3)) for _ in range(500)])
    ratio = draws.var(0) / exact
    assert ((ratio > 0.8) & (ratio < 1.25)).all(), ratio
    torch.testing.assert_close(draws.mean(0), layer(x).mean((2, 3))[0].detach(), atol=0.03,
                               rtol=0)
    # and the examples of one batch are uncorrelated (pseudo-independent draws)
    with torch.no_grad(), bayes_sampling(layer):
        a = torch.stack([layer(x.expand(2, -1, -1, -1)).mean((2, 3)) for _ in range(2000)])
    dev = a - a.mean(0)
    corr = (dev[:, 0] * dev[:, 1]).mean(0) / (dev[:, 0].std(0) * dev[:, 1].std(0))
    assert corr.abs().max() < 0.1


def test_bayes_linear_on_token_inputs_shares_the_weight_across_tokens():
    torch.manual_seed(0)
    layer = BayesLinear(5, 3, posterior_sigma=0.3).eval()
    x = torch.randn(1, 7, 5)
    with torch.no_grad(), bayes_sampling(layer):
        pooled = torch.cat([layer(x.expand(8, -1, -1)).mean(1) for _ in range(600)])
    xm = x[0].mean(0)
    exact = (xm ** 2).sum() * 0.3 ** 2 + 0.3 ** 2
    ratio = pooled.var(0) / exact
    assert ((ratio > 0.8) & (ratio < 1.25)).all(), ratio


def test_bayesianize_keeps_predictions_and_samples(images):
    m = _tiny()
    with torch.no_grad():
        before = m(images)["detect"]
    bayesianize(m, heads=True, last_stage=True, prior_sigma=0.5, posterior_sigma=0.05)
    assert isinstance(m.heads["detect"], BayesLinear)
    assert any(isinstance(x, BayesConv2d) for x in m.backbone.modules())
    with torch.no_grad():
        torch.testing.assert_close(m(images)["detect"], before, atol=1e-4, rtol=1e-4)
    p = predict_samples(m, images, method="bnn", samples=6, seed=0)
    assert p.shape == (6, 5, 2) and not torch.allclose(p[0], p[1])
    assert torch.equal(p, predict_samples(m, images, method="bnn", samples=6, seed=0))
    assert m.arch["bayesian"]["prior_sigma"] == 0.5
    with pytest.raises(ModelError):
        bayesianize(m)


def test_heads_only_bnn_reuses_one_backbone_pass(images):
    m = bayesianize(_tiny(), posterior_sigma=0.1)
    calls = []
    m.backbone.register_forward_hook(lambda *a: calls.append(1))
    p = predict_samples(m, images, method="bnn", samples=16)
    assert p.shape == (16, 5, 2) and len(calls) == 1


def test_checkpoint_roundtrip(tmp_path, images):
    m = bayesianize(_tiny(), last_stage=True, posterior_sigma=0.05)
    save_detector(m, tmp_path / "bnn")
    loaded, _ = load_detector(tmp_path / "bnn")
    assert len(bayes_modules(loaded)) == len(bayes_modules(m))
    torch.testing.assert_close(predict_samples(loaded, images, method="bnn", samples=4, seed=1),
                               predict_samples(m, images, method="bnn", samples=4, seed=1))


def test_bayes_loss_is_nll_plus_kl_over_n_and_trains_sigmas(images):
    m = bayesianize(_tiny())
    loss_fn = create_loss("bayes")
    assert isinstance(loss_fn, BayesLoss)
    loss_fn.bind(model=m, n_train=100, n_groups=0)
    m.train()
    out = m(images)
    logits = out["detect"]
    y = torch.tensor([0, 1, 0, 1, 1])
    loss = loss_fn(out, {"target": y})
    expected = F.cross_entropy(logits, y) + kl_divergence(m) / 100
    torch.testing.assert_close(loss, expected)
    assert loss_fn.last_kl_term == pytest.approx(kl_divergence(m).item() / 100, rel=1e-5)
    # the KL weight (a loss option) scales the KL term only
    weighted = create_loss("bayes", kl_weight=0.1)
    weighted.bind(model=m, n_train=100)
    torch.testing.assert_close(weighted(out, {"target": y}),
                               F.cross_entropy(logits, y) + 0.1 * kl_divergence(m) / 100)
    assert weighted.last_nll == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-5)
    loss.backward()
    assert m.heads["detect"].weight_rho.grad is not None
    assert kl_divergence(nn.Linear(2, 2)).item() == 0.0
    assert math.isfinite(loss.item())
    with pytest.raises(ModelError):
        BayesLoss(model=_tiny(), num_train=10)  # not Bayesian
