"""Any timm model as a backbone: pooled features ``(N, 3, H, W) -> (N, D)``, no classifier.

Weights: ``pretrained=True`` asks timm's hub (online users); ``checkpoint_path`` loads a local
file of backbone weights — the offline way. Neither is ever used silently.
"""

from __future__ import annotations

import timm

from fakescope.errors import ModelError
from fakescope.models.weights import load_backbone_weights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def timm_backbone(arch: str, *, pretrained: bool = False, checkpoint_path=None, **opts):
    """A timm model without classifier (``num_classes=0`` -> pooled features).

    Returns ``(module, feature_dim, mean, std)``; ``mean``/``std`` are the model's pretrained
    normalisation (ImageNet's when it has none).
    """
    try:
        model = timm.create_model(arch, pretrained=pretrained, num_classes=0, **opts)
    except RuntimeError as exc:
        raise ModelError(f"timm cannot build {arch!r}: {exc}") from exc
    except Exception as exc:  # hub errors when offline
        if pretrained:
            raise ModelError(f"cannot fetch pretrained weights for {arch!r} ({exc})",
                             hint="offline? pass checkpoint_path= a local weights file") from exc
        raise
    if checkpoint_path is not None:
        load_backbone_weights(model, checkpoint_path)
    cfg = model.pretrained_cfg or {}
    # Models with a pre-logits head (MobileNetV3) output head_hidden_size, not num_features.
    dim = getattr(model, "head_hidden_size", None) or model.num_features
    return model, dim, tuple(cfg.get("mean", IMAGENET_MEAN)), tuple(
        cfg.get("std", IMAGENET_STD))
