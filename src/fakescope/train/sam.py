"""Sharpness-aware minimisation (Foret et al., ICLR 2021) and adaptive SAM (Kwon et al., 2021).

One SAM step for loss L at weights w:

    e(w) = rho * g / ||g||_2                          (SAM)
    e(w) = rho * w^2 * g / ||w * g||_2                (ASAM, elementwise w)
    w <- w + e(w);  g' = grad L(w + e(w));  w <- w - e(w);  base_step(g')

The second forward/backward must not update BatchNorm running statistics (PG-FDD's practice):
wrap it in :func:`frozen_bn_stats`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


class SAM(torch.optim.Optimizer):
    """SAM over any base optimiser: ``SAM(model.parameters(), torch.optim.SGD, rho=0.05, lr=...)``.

    Use ``first_step()`` after the first backward and ``second_step()`` after the second, or
    ``step(closure)`` where the closure re-computes the loss and calls ``backward``.
    """

    def __init__(self, params, base_optimizer: type[torch.optim.Optimizer], *, rho: float = 0.05,
                 adaptive: bool = False, **kwargs):
        if rho < 0:
            raise ValueError(f"rho must be >= 0, got {rho}")
        super().__init__(params, dict(rho=rho, adaptive=adaptive, **kwargs))
        self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
        self.param_groups = self.base_optimizer.param_groups
        self.defaults.update(self.base_optimizer.defaults)

    def _grad_norm(self) -> torch.Tensor:
        norms = [((p.abs() if g["adaptive"] else 1.0) * p.grad).norm(p=2)
                 for g in self.param_groups for p in g["params"] if p.grad is not None]
        if not norms:
            return torch.tensor(0.0)
        return torch.stack([n.to(norms[0].device) for n in norms]).norm(p=2)

    @torch.no_grad()
    def first_step(self, zero_grad: bool = True) -> None:
        """Move to the worst-case neighbour ``w + e(w)``."""
        norm = self._grad_norm()
        for g in self.param_groups:
            scale = g["rho"] / (norm + 1e-12)
            for p in g["params"]:
                if p.grad is None:
                    continue
                e = (p.pow(2) if g["adaptive"] else 1.0) * p.grad * scale.to(p)
                p.add_(e)
                self.state[p]["e_w"] = e
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad: bool = True) -> None:
        """Return to ``w`` and take the base optimiser's step with the neighbour's gradient."""
        for g in self.param_groups:
            for p in g["params"]:
                if "e_w" in self.state[p]:
                    p.sub_(self.state[p].pop("e_w"))
        self.base_optimizer.step()
        if zero_grad:
            self.zero_grad()

    def step(self, closure: Callable[[], torch.Tensor] | None = None):  # type: ignore[override]
        if closure is None:
            raise ValueError("SAM.step needs a closure that recomputes the loss and calls backward")
        self.first_step(zero_grad=True)
        with torch.enable_grad():
            closure()
        self.second_step()

    def state_dict(self):
        return self.base_optimizer.state_dict()

    def load_state_dict(self, state_dict):
        self.base_optimizer.load_state_dict(state_dict)
        self.param_groups = self.base_optimizer.param_groups


def _bn_modules(model: nn.Module) -> Iterator[nn.modules.batchnorm._BatchNorm]:
    return (m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm))


@contextmanager
def frozen_bn_stats(model: nn.Module):
    """BatchNorm layers still normalise with batch statistics but do not update running ones."""
    saved = [(m, m.momentum) for m in _bn_modules(model)]
    for m, _ in saved:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, mom in saved:
            m.momentum = mom
