"""Loss registry: ``create_loss(name, **options)`` -> a module called as ``loss(outputs, batch)``.

``outputs`` is the Detector's dict of logits, ``batch`` the dataset's dict (``target``,
``label``, ``group``, ...). A loss may define ``bind(*, model, n_train, n_groups)``; the engine
calls it once before training (Bayesian losses need the model and the training-set size).

Built-ins: ``ce`` (here), ``bayes`` (:class:`~fakescope.models.bayesian.BayesLoss`, defined
beside the Bayesian layers whose KL it adds, registered here) and the fairness losses of
:mod:`fakescope.train.fair_losses`, registered when :mod:`fakescope.train` is imported.
``list_losses("*")`` names them all.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fakescope.errors import ConfigError
from fakescope.models.bayesian import BayesLoss
from fakescope.registry import Registry

#: name -> loss class (``cls(**options)`` builds it).
LOSSES: Registry[type[nn.Module]] = Registry("loss", error=ConfigError)


def register_loss(name: str):
    """Class decorator registering a loss under ``name``; a name already registered raises
    ValueError."""
    return LOSSES.register(name)


def list_losses(pattern: str | None = None) -> list[str]:
    """Registered loss names, sorted, optionally matching an fnmatch ``pattern``."""
    return LOSSES.list(pattern)


def create_loss(name: str, **options) -> nn.Module:
    """Build a registered loss; unknown names or options are ConfigErrors."""
    cls = LOSSES.get(name)
    try:
        return cls(**options)
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


LOSSES.add("bayes", BayesLoss)
