"""Gradient attacks on a detector: FGSM and PGD (L-inf and L2) in [0, 1] pixel units.

The model takes pixels in [0, 1] (normalisation is inside the Detector), so ``eps`` is in pixel
units: ``eps = 8/255`` is an 8-level change per channel for L-inf, and an L2 radius over the
whole ``(3, H, W)`` image for L2. The attack raises the binary cross-entropy of P(fake)
against the true label (1 = fake)::

    loss_i = -[y_i log P_i(fake) + (1 - y_i) log P_i(real)]

so fakes are pushed toward "real" and reals toward "fake", for binary and multi-class heads
alike (``P(real) = softmax(z)_0``). Dropout and Bayesian sampling are off during the attack
(the model runs in eval mode); adversarial images are clipped to [0, 1].

- FGSM: ``x' = clip(x + eps * sign(grad))`` (L-inf) or ``x + eps * grad / ||grad||_2`` (L2).
- PGD: ``steps`` steps of size ``alpha`` (default ``2.5 * eps / steps``) each followed by
  projection onto the eps-ball and [0, 1]; ``random_start`` begins at a seeded uniform point of
  the ball.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fakescope.errors import ConfigError
from fakescope.models.predict import mc_mode

NORMS = ("linf", "l2")


def fake_bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample BCE of P(fake) = 1 - softmax(logits)_0 against 0/1 ``labels``: ``(N,)``."""
    logp = F.log_softmax(logits.float(), dim=-1)
    log_real = logp[:, 0]
    log_fake = torch.logsumexp(logp[:, 1:], dim=-1)
    y = (labels > 0).float()
    return -(y * log_fake + (1 - y) * log_real)


def _loss_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor, head: str) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    out = model(x)
    logits = out[head] if isinstance(out, dict) else out
    loss = fake_bce(logits, y).sum()
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def _l2(v: torch.Tensor) -> torch.Tensor:
    return v.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (v.ndim - 1)))


def _step(grad: torch.Tensor, size: float, norm: str) -> torch.Tensor:
    return size * (grad.sign() if norm == "linf" else grad / _l2(grad))


def _project(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    if norm == "linf":
        return delta.clamp(-eps, eps)
    return delta * torch.clamp(eps / _l2(delta), max=1.0)


def _check(eps: float, norm: str) -> None:
    if norm not in NORMS:
        raise ConfigError(f"unknown norm {norm!r}", hint="use linf or l2")
    if eps < 0:
        raise ConfigError(f"eps must be >= 0, got {eps}")


def fgsm(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, *, eps: float,
         norm: str = "linf", head: str = "detect") -> torch.Tensor:
    """One-step attack; ``x: (N, 3, H, W)`` in [0, 1], ``labels: (N,)`` 0/1 -> adversarial x."""
    _check(eps, norm)
    with mc_mode(model, []):
        grad = _loss_grad(model, x, labels, head)
    return (x + _step(grad, eps, norm)).clamp(0, 1).detach()


def pgd(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, *, eps: float,
        norm: str = "linf", steps: int = 10, alpha: float | None = None,
        random_start: bool = True, seed: int = 0, head: str = "detect") -> torch.Tensor:
    """Projected gradient descent (Madry et al. 2018); see the module doc for the loss."""
    _check(eps, norm)
    if steps < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}")
    alpha = 2.5 * eps / steps if alpha is None else float(alpha)
    x = x.detach()
    delta = torch.zeros_like(x)
    if random_start and eps > 0:
        g = torch.Generator(device="cpu").manual_seed(seed)
        if norm == "linf":
            delta = (torch.rand(x.shape, generator=g) * 2 - 1) * eps
        else:  # uniform in the L2 ball: random direction, radius eps * U^(1/d)
            d = torch.randn(x.shape, generator=g)
            d = d / _l2(d)
            r = torch.rand(x.shape[0], generator=g) ** (1.0 / x[0].numel())
            delta = d * (eps * r).view(-1, *([1] * (x.ndim - 1)))
        delta = delta.to(x.device, x.dtype)
        delta = (x + delta).clamp(0, 1) - x
    with mc_mode(model, []):
        for _ in range(steps):
            grad = _loss_grad(model, x + delta, labels, head)
            delta = _project(delta + _step(grad, alpha, norm), eps, norm)
            delta = (x + delta).clamp(0, 1) - x
    return (x + delta).detach()


def attack(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, *, kind: str, eps: float,
           steps: int = 10, seed: int = 0, head: str = "detect") -> torch.Tensor:
    """``kind`` in ``fgsm``, ``fgsm_l2``, ``pgd`` (= ``pgd_linf``), ``pgd_l2``."""
    kinds = {"fgsm": ("fgsm", "linf"), "fgsm_l2": ("fgsm", "l2"), "pgd": ("pgd", "linf"),
             "pgd_linf": ("pgd", "linf"), "pgd_l2": ("pgd", "l2")}
    if kind not in kinds:
        raise ConfigError(f"unknown attack {kind!r}", hint=f"use one of {', '.join(kinds)}")
    name, norm = kinds[kind]
    if name == "fgsm":
        return fgsm(model, x, labels, eps=eps, norm=norm, head=head)
    return pgd(model, x, labels, eps=eps, norm=norm, steps=steps, seed=seed, head=head)
