"""Bayes-by-backprop: mean-field Gaussian Linear / Conv2d layers and a converter for detectors.

Each weight ``w`` has a posterior ``q(w) = N(mu, sigma^2)`` with ``sigma = softplus(rho)``, and a
prior ``p(w) = N(0, s^2)`` (``prior_sigma = s``, default 1 as in the research). The KL of one
weight is closed form::

    KL(q || p) = log(s / sigma) + (sigma^2 + mu^2) / (2 s^2) - 1/2

Training minimises ``NLL + KL / N`` (``N`` = training-set size): :class:`BayesLoss`, registered
as ``create_loss("bayes")`` by :mod:`fakescope.train.losses` (the loss registry lives in
``train``, a layer above; this module imports nothing from it).

How a layer samples in a forward pass:

* :class:`BayesLinear` on ``(N, in)`` inputs uses the *local reparameterisation trick*
  (Kingma et al. 2015): the pre-activation ``b = x W^T`` is sampled per example from
  ``N(x mu^T, x^2 sigma^2T)``. Each output of an example depends on its own weight row, so this
  is exactly the distribution of per-example weight samples, with lower-variance gradients.
* :class:`BayesConv2d` (and a linear layer on ``(N, *, in)``, e.g. tokens) uses *Flipout*
  (Wen et al. 2018). The local trick is not exact there: one weight serves every spatial
  position, but the trick would give each position independent noise, so after pooling over
  ``P`` positions the variance shrinks up to ``P``-fold, understating epistemic uncertainty
  (issue 27 reports ~180x; on ResNet-18 at 64 px, whose last stage is only 2 x 2, the pooled
  features' variance was 3.6x too small). Flipout draws one perturbation
  ``dW = sigma * eps`` per pass and gives example ``n`` the weight ``mu + dW * (r_n s_n^T)``
  with random signs ``r_n`` (output channels) and ``s_n`` (input channels)::

      y_n = conv(x_n, mu) + r_n * conv(x_n * s_n, dW) + b_n

  Since ``eps`` is symmetric, every example's weight is an exact sample of ``q(w)``, shared by
  all of its positions (the true correlation), and examples are decorrelated; the bias
  ``b_n ~ N(b_mu, b_sigma^2)`` is drawn per example. So repeating an input ``T`` times in one
  batch gives ``T`` samples (pseudo-independent ones: they share ``|dW|``).

Sampling is on in ``train()`` mode. In ``eval()`` mode a layer returns its posterior mean (so a
normal prediction is deterministic) unless sampling is switched on with
:func:`bayes_sampling`, which is what ``predict_samples(method="bnn")`` does.

``bayesianize(detector, heads=True, last_stage=False, prior_sigma=1.0)`` turns the heads
(and optionally the convolutions of the backbone's last stage) into Bayesian layers whose means
start at the current weights, and records the options in ``detector.arch["bayesian"]`` so
checkpoints rebuild the same architecture.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from fakescope.errors import ModelError

_EPS = 1e-16


def _inv_softplus(y: float) -> float:
    return math.log(math.expm1(y))


class _BayesMixin:
    """Shared posterior parameters, KL and sampling switch of the Bayesian layers."""

    prior_sigma: float
    sample_eval: bool

    def _init_posterior(self, weight: torch.Tensor, bias: torch.Tensor | None,
                        posterior_sigma: float) -> None:
        rho = _inv_softplus(posterior_sigma)
        self.weight_mu = nn.Parameter(weight.detach().clone())
        self.weight_rho = nn.Parameter(torch.full_like(weight, rho))
        if bias is not None:
            self.bias_mu = nn.Parameter(bias.detach().clone())
            self.bias_rho = nn.Parameter(torch.full_like(bias, rho))
        else:
            self.register_parameter("bias_mu", None)
            self.register_parameter("bias_rho", None)

    def _sigmas(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        ws = F.softplus(self.weight_rho)
        bs = None if self.bias_rho is None else F.softplus(self.bias_rho)
        return ws, bs

    @property
    def sampling(self) -> bool:
        return self.training or self.sample_eval

    def kl(self) -> torch.Tensor:
        """Closed-form ``KL(q || N(0, prior_sigma^2))`` summed over this layer's weights."""
        s = self.prior_sigma
        total = self.weight_mu.new_zeros(())
        ws, bs = self._sigmas()
        pairs = [(self.weight_mu, ws)] + ([] if bs is None else [(self.bias_mu, bs)])
        for mu, sigma in pairs:
            total = total + (math.log(s) - torch.log(sigma)
                             + (sigma ** 2 + mu ** 2) / (2 * s * s) - 0.5).sum()
        return total


class BayesLinear(_BayesMixin, nn.Module):
    """Mean-field Gaussian ``nn.Linear``: ``x (N, *, in) -> (N, *, out)``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 prior_sigma: float = 1.0, posterior_sigma: float = 1e-3,
                 weight: torch.Tensor | None = None, bias_init: torch.Tensor | None = None):
        super().__init__()
        if prior_sigma <= 0:
            raise ModelError(f"prior_sigma must be > 0, got {prior_sigma}")
        self.in_features, self.out_features = in_features, out_features
        self.prior_sigma = float(prior_sigma)
        self.sample_eval = False
        if weight is None:
            ref = nn.Linear(in_features, out_features, bias=bias)
            weight, bias_init = ref.weight, ref.bias
        self._init_posterior(weight, bias_init if bias else None, posterior_sigma)

    @classmethod
    def from_linear(cls, layer: nn.Linear, **kw) -> BayesLinear:
        return cls(layer.in_features, layer.out_features, layer.bias is not None,
                   weight=layer.weight, bias_init=layer.bias, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = F.linear(x, self.weight_mu, self.bias_mu)
        if not self.sampling:
            return mean
        ws, bs = self._sigmas()
        if x.dim() == 2:  # local reparameterisation: exact for one input vector per example
            var = F.linear(x * x, ws * ws, None if bs is None else bs * bs)
            return mean + torch.sqrt(var + _EPS) * torch.randn_like(mean)
        # Flipout: the rows of one example share its weight sample (see the module doc)
        shape = (x.shape[0],) + (1,) * (x.dim() - 2)
        s_in = _signs(x, shape + (self.in_features,))
        r_out = _signs(x, shape + (self.out_features,))
        out = mean + r_out * F.linear(x * s_in, ws * torch.randn_like(ws))
        if bs is not None:
            out = out + bs * torch.randn(shape + (self.out_features,), device=x.device,
                                         dtype=x.dtype)
        return out

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, prior_sigma={self.prior_sigma}"


class BayesConv2d(_BayesMixin, nn.Module):
    """Mean-field Gaussian ``nn.Conv2d`` (any stride/padding/dilation/groups), sampled with
    Flipout: one weight sample per example, shared by all its positions (module doc)."""

    def __init__(self, conv: nn.Conv2d, *, prior_sigma: float = 1.0, posterior_sigma: float = 1e-3):
        super().__init__()
        if prior_sigma <= 0:
            raise ModelError(f"prior_sigma must be > 0, got {prior_sigma}")
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ModelError("BayesConv2d supports numeric zero padding only")
        self.prior_sigma = float(prior_sigma)
        self.sample_eval = False
        self.stride, self.padding = conv.stride, conv.padding
        self.dilation, self.groups = conv.dilation, conv.groups
        self._init_posterior(conv.weight, conv.bias, posterior_sigma)

    def _conv(self, x, w, b):
        return F.conv2d(x, w, b, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (N, C_in, H, W) -> (N, C_out, H', W')``; Flipout when sampling (module doc)."""
        mean = self._conv(x, self.weight_mu, self.bias_mu)
        if not self.sampling:
            return mean
        ws, bs = self._sigmas()
        n = x.shape[0]
        s_in = _signs(x, (n, x.shape[1], 1, 1))
        r_out = _signs(x, (n, mean.shape[1], 1, 1))
        out = mean + r_out * self._conv(x * s_in, ws * torch.randn_like(ws), None)
        if bs is not None:
            out = out + (bs * torch.randn(n, bs.shape[0], device=x.device,
                                          dtype=x.dtype))[:, :, None, None]
        return out


BAYES_LAYERS = (BayesLinear, BayesConv2d)


def _signs(like: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Random +-1 of ``shape`` (Flipout's sign flips), on ``like``'s device and dtype."""
    return torch.randint(0, 2, shape, device=like.device).to(like.dtype).mul_(2).sub_(1)


def bayes_modules(model: nn.Module) -> list[nn.Module]:
    """The Bayesian layers of ``model`` in registration order."""
    return [m for m in model.modules() if isinstance(m, BAYES_LAYERS)]


def is_bayesian(model: nn.Module) -> bool:
    return bool(bayes_modules(model))


def kl_divergence(model: nn.Module) -> torch.Tensor:
    """Sum of the closed-form KL terms of every Bayesian layer (0 if there are none)."""
    mods = bayes_modules(model)
    if not mods:
        return torch.zeros(())
    return torch.stack([m.kl() for m in mods]).sum()


@contextmanager
def bayes_sampling(model: nn.Module, enabled: bool = True) -> Iterator[nn.Module]:
    """Within the block, Bayesian layers sample weights even in ``eval()`` mode."""
    mods = bayes_modules(model)
    old = [m.sample_eval for m in mods]
    for m in mods:
        m.sample_eval = enabled
    try:
        yield model
    finally:
        for m, o in zip(mods, old, strict=True):
            m.sample_eval = o


def find_last_stage(backbone: nn.Module) -> nn.Module:
    """The backbone's last stage: timm's last ``feature_info`` module if it holds convolutions,
    else the last top-level child that does."""
    has_conv = lambda m: any(isinstance(c, nn.Conv2d) for c in m.modules())  # noqa: E731
    info = getattr(backbone, "feature_info", None)
    if info is not None:
        try:
            mod = backbone.get_submodule(info[-1]["module"])
            if has_conv(mod):
                return mod
        except (AttributeError, KeyError, TypeError, IndexError):
            pass
    children = [c for c in backbone.children() if has_conv(c)]
    if not children:
        raise ModelError("the backbone has no convolutional stage to make Bayesian")
    return children[-1]


def _replace_convs(module: nn.Module, **kw) -> int:
    n = 0
    for name, child in module.named_children():
        # exact type: subclasses (timm's Conv2dSame) pad inside their own forward
        if type(child) is nn.Conv2d and child.padding_mode == "zeros" and not isinstance(
                child.padding, str):
            setattr(module, name, BayesConv2d(child, **kw).train(child.training))
            n += 1
        else:
            n += _replace_convs(child, **kw)
    return n


def bayesianize(detector: nn.Module, *, heads: bool = True, last_stage: bool = False,
                prior_sigma: float = 1.0, posterior_sigma: float = 1e-3) -> nn.Module:
    """Turn a Detector's heads (and optionally its last backbone stage) into Bayesian layers.

    Posterior means start at the current weights, posterior sigmas at ``posterior_sigma``.
    Modifies ``detector`` in place and returns it; ``detector.arch["bayesian"]`` records the
    options (read back by ``fakescope.models.checkpoint.build_from_meta``).
    """
    if not (heads or last_stage):
        raise ModelError("bayesianize: nothing to convert", hint="set heads=True or last_stage=True")
    if is_bayesian(detector):
        raise ModelError("the detector is already Bayesian")
    kw = {"prior_sigma": prior_sigma, "posterior_sigma": posterior_sigma}
    if heads:
        for name, head in list(detector.heads.items()):
            if isinstance(head, nn.Linear):
                detector.heads[name] = BayesLinear.from_linear(head, **kw).train(head.training)
    if last_stage:
        stage = find_last_stage(detector.backbone)
        if _replace_convs(stage, **kw) == 0:
            raise ModelError("the last backbone stage has no convertible convolution")
    if hasattr(detector, "arch"):
        detector.arch["bayesian"] = {"heads": bool(heads), "last_stage": bool(last_stage),
                                     "prior_sigma": float(prior_sigma),
                                     "posterior_sigma": float(posterior_sigma)}
    return detector


def heads_only_bayesian(detector: nn.Module) -> bool:
    """True when every Bayesian layer sits in ``detector.heads`` (one backbone pass suffices)."""
    heads = getattr(detector, "heads", None)
    if heads is None:
        return False
    in_heads = {id(m) for m in bayes_modules(heads)}
    return all(id(m) in in_heads for m in bayes_modules(detector))


class BayesLoss(nn.Module):
    """Bayes-by-backprop loss ``cross_entropy + kl_weight * KL(model) / N``.

    ``kl_weight`` (default 1) scales the KL term: with a small training set the KL of a whole
    layer dwarfs the likelihood, and a weight below 1 lets the posterior fit the data (see
    ``docs/uncertainty.md``). After each call ``last_nll`` and ``last_kl_term`` hold the two
    terms (floats).

    ``N`` is the training-set size (the KL is spread over an epoch of mini-batches, as in
    Blundell et al. 2015). Follows the loss registry's protocol (``create_loss("bayes")``):
    the engine calls ``bind(model=..., n_train=N)`` before training, then
    ``loss(outputs, batch)`` with the Detector's logits dict and the batch dict (``target``).
    A logits tensor ``(B, C)`` and a target tensor ``(B,)`` are accepted too.
    """

    def __init__(self, kl_weight: float = 1.0, head: str = "detect", *,
                 model: nn.Module | None = None, num_train: int | None = None):
        super().__init__()
        self.kl_weight, self.head = float(kl_weight), head
        self._model: list[nn.Module] = []  # a list, so the model is not a registered submodule
        self.num_train = 0
        if model is not None:
            self.bind(model=model, n_train=num_train or 0)

    def bind(self, *, model: nn.Module, n_train: int, n_groups: int = 0) -> None:
        if n_train <= 0:
            raise ModelError(f"the training-set size must be > 0, got {n_train}")
        if not is_bayesian(model):
            raise ModelError("loss 'bayes' needs a Bayesian detector",
                             hint="convert it with fakescope.models.bayesian.bayesianize")
        self._model, self.num_train = [model], int(n_train)

    def forward(self, outputs, batch) -> torch.Tensor:
        if not self._model:
            raise ModelError("BayesLoss is not bound to a model", hint="call bind(model=, n_train=)")
        logits = outputs[self.head] if isinstance(outputs, dict) else outputs
        target = batch["target"] if isinstance(batch, dict) else batch
        nll = F.cross_entropy(logits, target)
        kl = kl_divergence(self._model[0]).to(nll.device)
        kl_term = self.kl_weight * kl / self.num_train
        # the balance of the two terms, for a check of kl_weight (see docs/uncertainty.md)
        self.last_nll, self.last_kl_term = float(nll.detach()), float(kl_term.detach())
        return nll + kl_term
