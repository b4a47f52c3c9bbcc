"""Fairness losses, registered in :mod:`fakescope.train.losses` (``create_loss(name, ...)``).

All are called as ``loss(outputs, batch)`` with the Detector's logits dict and the batch dict;
``batch["group"]`` holds integer group codes ``(N,)`` (``-1`` = unknown; set
``data.group_column`` in the training config). Per-sample detection loss
``l_i = CE(outputs["detect"]_i, target_i)``.

* ``group_reweight`` — group-reweighted CE. Each present cell ``c`` (group, or group x label with
  ``by_label=True``) gets the same total weight in the batch:
  ``L = (1/|C_b|) sum_{c in C_b} mean_{i in c} l_i``; with fixed ``weights`` (one per group)
  ``L = sum_i w_{g_i} l_i / sum_i w_{g_i}``. Unknown-group rows form their own cell.
* ``dro`` — DAW-FDD-style distributionally robust loss: CVaR over per-group losses,
  ``L = CVaR_alpha({L_g})`` with ``L_g = CVaR_inner_alpha({l_i : g_i = g})`` (``inner_alpha=1``
  is the plain mean). ``CVaR_a(v_1..v_K) = min_eta eta + 1/(a K) sum_k (v_k - eta)_+`` =
  mean of the worst ``a`` fraction of the values (fractional at the boundary).
* ``multitask`` — ``L = CE_detect + weight * CE(outputs[head], group)`` (rows with group -1 do
  not count in the second term); ``grad_reverse = lam > 0`` puts a gradient reversal layer in
  front of the demographic head (forward identity, backward ``-lam * grad``), so the head
  learns the group while the backbone is pushed *not* to encode it. The detector needs the
  extra head: ``model.heads: {group: <number of groups>}``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from fakescope.errors import ConfigError
from fakescope.train.losses import register_loss


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: float) -> torch.Tensor:
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.lam * grad, None


def grad_reverse(x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    """Identity forward; multiplies the gradient by ``-lam`` on the way back."""
    return _GradReverse.apply(x, float(lam))


class GradientReversal(nn.Module):
    """Module form of :func:`grad_reverse`."""

    def __init__(self, lam: float = 1.0):
        super().__init__()
        self.lam = float(lam)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grad_reverse(x, self.lam)


def attach_gradient_reversal(model: nn.Module, head: str, lam: float) -> torch.utils.hooks.RemovableHandle:
    """Reverse gradients at the *input* of ``model.heads[head]`` (a forward pre-hook).

    The head's own weights still minimise its loss; everything before it receives
    ``-lam`` times the gradient. The state dict is unchanged, so checkpoints load as usual.
    """
    heads = getattr(model, "heads", None)
    if heads is None or head not in heads:
        raise ConfigError(f"the model has no head {head!r} for the multi-task loss",
                          hint=f"set model.heads: {{{head}: <number of groups>}}")
    return heads[head].register_forward_pre_hook(lambda _m, args: (grad_reverse(args[0], lam),
                                                                   *args[1:]))


def cvar(values: torch.Tensor, alpha: float) -> torch.Tensor:
    """CVaR at level ``alpha`` in (0, 1] of ``values: (K,)`` (mean of the worst alpha fraction).

    Exactly ``min_eta eta + 1/(alpha K) sum_k (v_k - eta)_+``: the top ``floor(alpha K)`` values
    count fully and the next one with the remaining fraction. ``alpha = 1`` is the mean.
    """
    k = values.numel()
    if k == 0:
        return values.sum()
    m = alpha * k
    top = torch.sort(values, descending=True).values
    whole = min(int(math.floor(m + 1e-9)), k)
    total = top[:whole].sum()
    frac = m - whole
    if frac > 1e-9 and whole < k:
        total = total + frac * top[whole]
    return total / m


def _per_sample_ce(outputs, batch, head: str, label_smoothing: float) -> torch.Tensor:
    return F.cross_entropy(outputs[head], batch["target"], reduction="none",
                           label_smoothing=label_smoothing)


@register_loss("group_reweight")
class GroupReweightedCE(nn.Module):
    """Group-reweighted cross-entropy (see module doc)."""

    def __init__(self, by_label: bool = False, weights: list[float] | None = None,
                 label_smoothing: float = 0.0, head: str = "detect"):
        super().__init__()
        self.by_label = bool(by_label)
        self.weights = None if weights is None else [float(w) for w in weights]
        if self.weights is not None and any(w < 0 for w in self.weights):
            raise ConfigError("group_reweight weights must be >= 0")
        self.label_smoothing = float(label_smoothing)
        self.head = head

    def forward(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        losses = _per_sample_ce(outputs, batch, self.head, self.label_smoothing)
        group = batch["group"].to(losses.device).long()
        if self.weights is not None:
            w_table = torch.tensor(self.weights + [1.0], device=losses.device, dtype=losses.dtype)
            if int(group.max()) >= len(self.weights):
                raise ConfigError(f"group code {int(group.max())} has no weight "
                                  f"({len(self.weights)} weights given)")
            w = w_table[torch.where(group < 0, len(self.weights), group)]
            return (w * losses).sum() / w.sum().clamp_min(1e-12)
        cell = group + 1  # -1 (unknown) becomes its own cell 0
        if self.by_label:
            cell = cell * 2 + batch["label"].to(losses.device).long()
        _, inv, counts = torch.unique(cell, return_inverse=True, return_counts=True)
        w = 1.0 / counts[inv].to(losses.dtype)
        return (w * losses).sum() / len(counts)


@register_loss("dro")
class GroupDRO(nn.Module):
    """DAW-FDD-style CVaR over per-group losses (see module doc)."""

    def __init__(self, alpha: float = 0.5, inner_alpha: float = 1.0,
                 label_smoothing: float = 0.0, head: str = "detect"):
        super().__init__()
        for name, a in (("alpha", alpha), ("inner_alpha", inner_alpha)):
            if not 0.0 < float(a) <= 1.0:
                raise ConfigError(f"dro {name} must be in (0, 1], got {a}")
        self.alpha = float(alpha)
        self.inner_alpha = float(inner_alpha)
        self.label_smoothing = float(label_smoothing)
        self.head = head

    def group_losses(self, losses: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        """Per-group (inner-CVaR) losses ``(K_b,)`` of the groups present in the batch."""
        return torch.stack([cvar(losses[group == g], self.inner_alpha)
                            for g in torch.unique(group)])

    def forward(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        losses = _per_sample_ce(outputs, batch, self.head, self.label_smoothing)
        group = batch["group"].to(losses.device).long()
        return cvar(self.group_losses(losses, group), self.alpha)


@register_loss("multitask")
class MultiTaskLoss(nn.Module):
    """Detection CE + ``weight`` x demographic-head CE, optional gradient reversal."""

    def __init__(self, weight: float = 0.5, head: str = "group", grad_reverse: float = 0.0,
                 label_smoothing: float = 0.0):
        super().__init__()
        if weight < 0 or grad_reverse < 0:
            raise ConfigError("multitask weight and grad_reverse must be >= 0")
        self.weight = float(weight)
        self.head = head
        self.grad_reverse = float(grad_reverse)
        self.label_smoothing = float(label_smoothing)
        self._hook = None

    def bind(self, *, model: nn.Module | None = None, n_train: int | None = None,
             n_groups: int | None = None) -> None:
        """Check the demographic head; attach the gradient reversal once (when asked)."""
        if model is None:
            return
        heads = getattr(model, "heads", {})
        if self.head not in heads:
            raise ConfigError(f"the model has no head {self.head!r} for the multi-task loss",
                              hint=f"set model.heads: {{{self.head}: {n_groups or 'K'}}}")
        if n_groups and heads[self.head].out_features < n_groups:
            raise ConfigError(f"head {self.head!r} has {heads[self.head].out_features} outputs "
                              f"for {n_groups} groups")
        if self.grad_reverse > 0 and self._hook is None:
            self._hook = attach_gradient_reversal(model, self.head, self.grad_reverse)

    def forward(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.head not in outputs:
            raise ConfigError(f"no output {self.head!r} for the multi-task loss",
                              hint=f"add model.heads: {{{self.head}: K}}")
        det = F.cross_entropy(outputs["detect"], batch["target"],
                              label_smoothing=self.label_smoothing)
        if self.weight == 0:
            return det
        group = batch["group"].to(det.device).long()
        if (group >= 0).any():
            demo = F.cross_entropy(outputs[self.head], group, ignore_index=-1)
        else:
            demo = outputs[self.head].sum() * 0.0
        return det + self.weight * demo
