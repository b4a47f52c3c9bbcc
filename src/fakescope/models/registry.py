"""Detector registry and factory, in timm's manner.

    create_detector("resnet18", num_classes=2, dropout=0.3)
    create_detector("timm:convnext_tiny", checkpoint_path="convnext_tiny.safetensors")

A registered builder returns ``(backbone, feature_dim, mean, std)``; the factory wraps it in a
:class:`~fakescope.models.detector.Detector` with the requested heads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from fakescope.errors import ModelError
from fakescope.models.detector import Detector

# Detectors whose pretrained weights ship in an installed package (no hub): recipes start
# them pretrained by default.
OFFLINE_PRETRAINED = ("efficientnet_lite0",)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

BackboneBuilder = Callable[..., tuple[nn.Module, int, tuple, tuple]]


@dataclass(frozen=True)
class DetectorSpec:
    name: str
    builder: BackboneBuilder
    description: str
    default_size: int


_REGISTRY: dict[str, DetectorSpec] = {}


def register_detector(name: str, *, description: str, default_size: int = 224):
    """Decorator registering a backbone builder ``fn(*, pretrained, checkpoint_path, **opts)``."""

    def deco(fn: BackboneBuilder) -> BackboneBuilder:
        if name in _REGISTRY:
            raise ValueError(f"detector {name!r} is already registered")
        _REGISTRY[name] = DetectorSpec(name, fn, description, default_size)
        return fn

    return deco


def list_detectors() -> list[str]:
    """Registered detector names (any timm model is also available as ``timm:<name>``)."""
    _ensure_builtins()
    return sorted(_REGISTRY)


def detector_spec(name: str) -> DetectorSpec:
    _ensure_builtins()
    if name.startswith("timm:"):
        from fakescope.models.architectures import timm_backbone

        arch = name.split(":", 1)[1]
        return DetectorSpec(name, lambda **kw: timm_backbone(arch, **kw), f"timm {arch}", 224)
    if name not in _REGISTRY:
        raise ModelError(f"unknown detector {name!r}",
                         hint=f"choose one of {', '.join(sorted(_REGISTRY))} or timm:<model>")
    return _REGISTRY[name]


def create_detector(
    name: str,
    *,
    num_classes: int = 2,
    heads: dict[str, int] | None = None,
    dropout: float = 0.0,
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
        pretrained: download ImageNet weights from the hub (online users only).
        checkpoint_path: local backbone weights (``.safetensors`` or ``.pth``): the offline way.
        image_size: the input size this model is trained at (stored for preprocessing).
    """
    spec = detector_spec(name)
    backbone, dim, bmean, bstd = spec.builder(
        pretrained=pretrained, checkpoint_path=checkpoint_path, **backbone_opts)
    arch = {"name": name, "image_size": int(image_size or spec.default_size), **backbone_opts}
    return Detector(backbone, dim, num_classes=num_classes, heads=heads, dropout=dropout,
                    mean=tuple(mean or bmean), std=tuple(std or bstd), class_names=class_names,
                    arch=arch)


_BUILTINS_LOADED = False


def _ensure_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        import fakescope.models.architectures  # noqa: F401  (registers the built-in detectors)
