"""Loss registry: ``create_loss(name, **options)`` -> a module called as ``loss(outputs, batch)``.

``outputs`` is the Detector's dict of logits, ``batch`` the dataset's dict (``target``,
``label``, ``group``, ...). A loss may define ``bind(*, model, n_train, n_groups)``; the engine
calls it once before training (Bayesian losses need the model and the training-set size).
Fairness losses live in :mod:`fakescope.train.fair_losses`, Bayesian ones in
:mod:`fakescope.models.bayesian`; both register here.
"""

from __future__ import annotations

import importlib

import torch
import torch.nn.functional as F
from torch import nn

from fakescope.errors import ConfigError

_LOSSES: dict[str, type[nn.Module]] = {}
_PLUGIN_MODULES = ("fakescope.train.fair_losses", "fakescope.models.bayesian")


def register_loss(name: str):
    def deco(cls: type[nn.Module]) -> type[nn.Module]:
        _LOSSES[name] = cls
        return cls

    return deco


def _load_plugins() -> None:
    for mod in _PLUGIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


def list_losses() -> list[str]:
    _load_plugins()
    return sorted(_LOSSES)


def create_loss(name: str, **options) -> nn.Module:
    """Build a registered loss; unknown names or options are ConfigErrors."""
    if name not in _LOSSES:
        _load_plugins()
    if name not in _LOSSES:
        raise ConfigError(f"unknown loss {name!r}", hint=f"choose one of {', '.join(list_losses())}")
    try:
        return _LOSSES[name](**options)
    except TypeError as exc:
        raise ConfigError(f"bad options for loss {name!r}: {exc}") from exc


@register_loss("ce")
class CrossEntropy(nn.Module):
    """Cross-entropy of the detection head: ``mean_i -log softmax(z_i)[y_i]``."""

    def __init__(self, label_smoothing: float = 0.0, head: str = "detect"):
        super().__init__()
        self.label_smoothing = float(label_smoothing)
        self.head = head

    def forward(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(outputs[self.head], batch["target"],
                               label_smoothing=self.label_smoothing)
