"""Detectors and the separability study's feature extractors, each a registry in timm's manner.

- Detectors: ``create_detector(name, ...)`` / ``list_detectors(pattern)`` build a
  :class:`Detector` (backbone + heads; safetensors checkpoints in :mod:`.checkpoint`).
- Feature extractors: ``create_feature_extractor(name, ...)`` / ``list_feature_extractors(pattern)``
  give frozen crop -> ``(N, D)`` features (:mod:`.feature_extractors`).

Importing this package registers the built-ins (the modules below hold them).
"""

from fakescope.models import (  # noqa: F401  (built-ins)
    architectures,
    bio,
    dlib_face,
    handcrafted,
    ssl,
)
from fakescope.models.detector import Detector, p_fake
from fakescope.models.feature_extractors import (
    FeatureExtractor,
    create_feature_extractor,
    list_feature_extractors,
    register_feature_extractor,
)
from fakescope.models.registry import create_detector, list_detectors, register_detector

__all__ = ["Detector", "FeatureExtractor", "create_detector", "create_feature_extractor",
           "list_detectors", "list_feature_extractors", "p_fake", "register_detector",
           "register_feature_extractor"]
