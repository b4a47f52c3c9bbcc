"""Detector registry and factory, in timm's manner.

    create_detector("resnet18", num_classes=2, dropout=0.3)
    create_detector("timm:convnext_tiny", checkpoint_path="convnext_tiny.safetensors")
    list_detectors("efficientnet*")

A registered builder ``fn(*, pretrained, checkpoint_path, **opts)`` returns
``(backbone, feature_dim, mean, std)``; the factory wraps it in a
:class:`~fakescope.models.detector.Detector` with the requested heads. The built-in detectors
are registered by :mod:`fakescope.models.architectures` when :mod:`fakescope.models` is
imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from fakescope.errors import ModelError
from fakescope.models.detector import Detector
from fakescope.models.timm_backbone import timm_backbone
from fakescope.registry import Registry

# Detectors whose pretrained weights ship in an installed package (no hub): recipes start
# them pretrained by default.
OFFLINE_PRETRAINED = ("efficientnet_lite0",)

BackboneBuilder = Callable[..., tuple[nn.Module, int, tuple, tuple]]

#: name -> backbone builder; info: ``description``, ``default_size``.
DETECTORS: Registry[BackboneBuilder] = Registry("detector", error=ModelError,
                                                also="timm:<model>")


@dataclass(frozen=True)
class DetectorSpec:
    name: str
    builder: BackboneBuilder
    description: str
    default_size: int


def register_detector(name: str, *, description: str, default_size: int = 224):
    """Decorator registering a backbone builder ``fn(*, pretrained, checkpoint_path, **opts)``;
    a name already registered raises ValueError."""
    return DETECTORS.register(name, description=description, default_size=default_size)


def list_detectors(pattern: str | None = None) -> list[str]:
    """Registered detector names, sorted, optionally matching an fnmatch ``pattern``
    (any timm model is also available as ``timm:<name>``)."""
    return DETECTORS.list(pattern)


def detector_spec(name: str) -> DetectorSpec:
    """The registry entry of ``name`` (``timm:<model>`` names get an ad-hoc entry)."""
    if name.startswith("timm:"):
        arch = name.split(":", 1)[1]
        return DetectorSpec(name, lambda **kw: timm_backbone(arch, **kw), f"timm {arch}", 224)
    builder = DETECTORS.get(name)
    return DetectorSpec(name, builder, **DETECTORS.info(name))


def create_detector(
    name: str,
    *,
    num_classes: int = 2,
    heads: dict[str, int] | None = None,
    dropout: float = 0.0,
    backbone_dropout: float = 0.0,
    pretrained: bool = False,
    checkpoint_path: str | Path | None = None,
    class_names: list[str] | None = None,
    image_size: int | None = None,
    mean: tuple | list | None = None,
    std: tuple | list | None = None,
    **backbone_opts: Any,
) -> Detector:
    """Build a detector by name.

    Args:
        name: a registered name (``list_detectors()``) or ``timm:<model>``.
        num_classes: 2 for real/fake; ``1 + #sources`` for multi-class (class 0 = real).
        heads: extra heads, ``{"group": 8}``.
        dropout: dropout before each head (MC dropout's hook).
        backbone_dropout: dropout after each backbone stage (full-network MC dropout samples
            it; :mod:`fakescope.models.stage_dropout`).
        pretrained: download ImageNet weights from the hub (online users only).
        checkpoint_path: local backbone weights (``.safetensors`` or ``.pth``): the offline way.
        image_size: the input size this model is trained at (stored for preprocessing).
    """
    spec = detector_spec(name)
    backbone, dim, bmean, bstd = spec.builder(
        pretrained=pretrained, checkpoint_path=checkpoint_path, **backbone_opts)
    arch = {"name": name, "image_size": int(image_size or spec.default_size), **backbone_opts}
    return Detector(backbone, dim, num_classes=num_classes, heads=heads, dropout=dropout,
                    backbone_dropout=backbone_dropout,
                    mean=tuple(mean or bmean), std=tuple(std or bstd), class_names=class_names,
                    arch=arch)
