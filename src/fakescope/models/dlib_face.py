"""dlib's ResNet face embedder as a feature extractor (``dlib_face``, 128-D, offline).

The weights ship in ``face-recognition-models``; dlib runs them (``dlib-bin``). Registered when
:mod:`fakescope.models` is imported; ``available()`` says whether both packages are present.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fakescope.errors import ModelError
from fakescope.models.feature_extractors import FeatureExtractor, register_feature_extractor


def face_recognition_models_dir() -> Path | None:
    """Folder of the ``face_recognition_models`` data files (the package itself is not imported:
    its ``__init__`` needs pkg_resources)."""
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(list(spec.submodule_search_locations)[0]) / "models"
    return p if p.is_dir() else None


def _dlib_available() -> bool:
    import importlib.util

    d = face_recognition_models_dir()
    return (importlib.util.find_spec("dlib") is not None and d is not None
            and (d / "dlib_face_recognition_resnet_model_v1.dat").is_file())


class DlibFace(FeatureExtractor):
    """dlib's ResNet face embedder (128-D), each crop taken as the face box.

    Per crop: 5-point landmarks inside the box ``(0, 0, W-1, H-1)`` -> ``dlib.get_face_chip``
    (150x150, ``padding``) -> ``face_recognition_model_v1`` descriptor.
    """

    task = "face_recognition"
    offline = True
    feature_dim = 128

    def __init__(self, *, padding: float = 0.25):
        if not _dlib_available():
            raise ModelError("dlib_face needs dlib and face-recognition-models",
                             hint="pip install dlib-bin face-recognition-models")
        import dlib

        d = face_recognition_models_dir()
        self._dlib = dlib
        self.shape_predictor = dlib.shape_predictor(str(d / "shape_predictor_5_face_landmarks.dat"))
        self.encoder = dlib.face_recognition_model_v1(
            str(d / "dlib_face_recognition_resnet_model_v1.dat"))
        self.padding = float(padding)
        self.preprocess = ("whole crop as the face box; 5-point landmarks; aligned 150x150 chip "
                           f"(padding {self.padding}); weights: face-recognition-models package")

    def landmarks(self, image: np.ndarray):
        """dlib ``full_object_detection`` of the 5 landmarks, the crop being the face box."""
        h, w = image.shape[:2]
        return self.shape_predictor(image, self._dlib.rectangle(0, 0, w - 1, h - 1))

    def _extract(self, images: list[np.ndarray]) -> np.ndarray:
        chips = [self._dlib.get_face_chip(img, self.landmarks(img), size=150, padding=self.padding)
                 for img in images]
        return np.asarray([np.asarray(v) for v in self.encoder.compute_face_descriptor(chips)],
                          np.float32)


@register_feature_extractor("dlib_face", task="face_recognition",
                   description="dlib ResNet face embedder, 128-D (face-recognition-models)",
                   available=_dlib_available)
def _dlib_face(*, padding: float = 0.25, device=None) -> DlibFace:
    return DlibFace(padding=padding)
