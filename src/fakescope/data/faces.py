"""Face detection, landmarks and similarity alignment with dlib (offline).

A *detector* is any object with ``detect(image) -> list[Face]`` for an RGB ``uint8 (H, W, 3)``
image; :class:`DlibDetector` is the default (HOG, or the CNN "mmod" model), with dlib's 5- or
68-point shape predictor from the ``face-recognition-models`` package. Tests and other
backends inject their own object.

Alignment (:func:`align_face`) maps landmarks onto a canonical template by a similarity
transform (rotation, uniform scale, translation; least squares, Umeyama 1991):
``x_crop = s R x + t``. The template is the 5-point ArcFace template (eye centres, nose tip,
mouth corners) in unit crop coordinates, shrunk about the crop centre by ``margin``:
``template_px = ((t - 0.5) / margin + 0.5) * size``. DeepfakeBench's defaults are
``margin=1.3``, ``size=256``. Without landmarks the crop is the detection box, squared and
enlarged by ``margin``. The batch pipeline (``extract_faces``) lives in
:mod:`fakescope.data.face_extraction`, which builds on this module.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fakescope.errors import ConfigError, DataError

MODELS_ENV = "FAKESCOPE_FACE_MODELS"
PREDICTORS = {5: "shape_predictor_5_face_landmarks.dat", 68: "shape_predictor_68_face_landmarks.dat"}
CNN_MODEL = "mmod_human_face_detector.dat"
# ArcFace 112x112 template (x shifted by 8 from the 96x112 original), divided by 112.
TEMPLATE_5 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                       [41.5493, 92.3655], [70.7299, 92.2041]]) / 112.0
POLICIES = ("largest", "all", "tracked")


@dataclass
class Face:
    """One detected face: ``box`` (x0, y0, x1, y1) pixels, ``score``, ``landmarks`` (K, 2) x,y.

    ``score``: detector confidence (CNN); 1.0 for HOG, whose fast path gives none.
    """

    box: tuple[float, float, float, float]
    score: float = 1.0
    landmarks: np.ndarray | None = field(default=None, repr=False)

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(x1 - x0, 0.0) * max(y1 - y0, 0.0)


def models_dir() -> Path:
    """Folder of dlib's model files: ``$FAKESCOPE_FACE_MODELS`` or face-recognition-models'."""
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env)
    # Locate without importing: face_recognition_models' __init__ needs pkg_resources.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("dlib face models not found",
                          hint="pip install 'fakescope[faces]' (face-recognition-models) "
                          f"or set {MODELS_ENV} to a folder with the .dat files")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


class DlibDetector:
    """dlib face detector + shape predictor.

    ``kind``: ``hog`` (frontal HOG + linear SVM, fast on CPU) or ``cnn`` (mmod CNN, more robust
    to pose, slow without CUDA). ``landmarks``: 68 or 5 points (0 = none). ``upsample``: image
    upsampling passes before detection (each doubles the size; finds faces under ~80 px;
    DeepfakeBench uses 1, default 0 here for speed on video-sized frames).
    Models load lazily, so the object pickles cheaply to worker processes.
    """

    def __init__(self, kind: str = "hog", *, landmarks: int = 68, upsample: int = 0,
                 model_dir: str | Path | None = None):
        if kind not in ("hog", "cnn"):
            raise ConfigError(f"detector {kind!r}", hint="use hog or cnn")
        if landmarks not in (0, 5, 68):
            raise ConfigError(f"landmarks={landmarks}", hint="use 68, 5 or 0")
        self.kind, self.landmarks, self.upsample = kind, landmarks, int(upsample)
        self.model_dir = Path(model_dir) if model_dir else None
        self._det = self._sp = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_det"] = state["_sp"] = None
        return state

    def describe(self) -> dict:
        return {"detector": self.kind, "landmarks": self.landmarks, "upsample": self.upsample}

    def _load(self) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise ConfigError("dlib is not installed", hint="pip install 'fakescope[faces]'") from exc
        mdir = self.model_dir or models_dir()
        if self.kind == "hog":
            self._det = dlib.get_frontal_face_detector()
        else:
            self._det = dlib.cnn_face_detection_model_v1(str(_model_file(mdir, CNN_MODEL)))
        if self.landmarks:
            self._sp = dlib.shape_predictor(str(_model_file(mdir, PREDICTORS[self.landmarks])))

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB ``uint8 (H, W, 3)`` image, in detector order."""
        if self._det is None:
            self._load()
        image = np.ascontiguousarray(image)
        if self.kind == "hog":
            # The plain call is ~1.6x faster than .run(), which also returns SVM scores.
            found = [(r, 1.0) for r in self._det(image, self.upsample)]
        else:
            found = [(d.rect, d.confidence) for d in self._det(image, self.upsample)]
        faces = []
        for rect, score in found:
            pts = None
            if self._sp is not None:
                shape = self._sp(image, rect)
                pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
            faces.append(Face((float(rect.left()), float(rect.top()), float(rect.right()),
                               float(rect.bottom())), float(score), pts))
        return faces


def _model_file(mdir: Path, name: str) -> Path:
    path = mdir / name
    if not path.is_file():
        raise ConfigError("dlib model file not found", path=path,
                          hint=f"install face-recognition-models or set {MODELS_ENV}")
    return path


def create_face_detector(detector="hog", *, landmarks: int = 68, upsample: int = 0):
    """``"hog"``/``"cnn"`` -> :class:`DlibDetector`; an object with ``detect`` is returned as is."""
    if isinstance(detector, str):
        return DlibDetector(detector, landmarks=landmarks, upsample=upsample)
    if not callable(getattr(detector, "detect", None)):
        raise ConfigError(f"{type(detector).__name__} has no detect(image) method")
    return detector


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity ``(2, 3)`` matrix M with ``dst ~ M[:, :2] @ src + M[:, 2]``.

    ``src``, ``dst``: (K, 2), K >= 2. Umeyama (1991): with centred points and
    ``Sigma = dst_c^T src_c / K = U S V^T``, ``R = U D V^T`` (D fixes reflections),
    ``s = trace(S D) / var(src)``, ``t = mean(dst) - s R mean(src)``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    sc, dc = src - mu_s, dst - mu_d
    var = (sc ** 2).sum() / len(src)
    if var <= 1e-12:
        raise DataError("degenerate landmarks (all points coincide)")
    u, s, vt = np.linalg.svd(dc.T @ sc / len(src))
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    r = u @ np.diag(d) @ vt
    scale = (s * d).sum() / var
    m = np.zeros((2, 3))
    m[:, :2] = scale * r
    m[:, 2] = mu_d - scale * r @ mu_s
    return m


def key_points(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(points (K, 2), matching unit template (K, 2)) for 68- or 5-point dlib landmarks.

    68 points: eye centres (mean of 36-41, 42-47), nose tip (30), mouth corners (48, 54).
    5 points: eye centres (mean of each corner pair), nose base (4) -> first 3 template points.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if len(lm) == 68:
        pts = np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]])
        return pts, TEMPLATE_5
    if len(lm) == 5:
        eyes = sorted([lm[0:2].mean(0), lm[2:4].mean(0)], key=lambda p: p[0])
        return np.stack([eyes[0], eyes[1], lm[4]]), TEMPLATE_5[:3]
    raise DataError(f"expected 68 or 5 landmarks, got {len(lm)}")


def alignment_matrix(face: Face, *, size: int = 256, margin: float = 1.3) -> np.ndarray:
    """``(2, 3)`` similarity from image to a ``size x size`` crop (see module doc)."""
    if margin <= 0 or size < 8:
        raise ConfigError(f"size={size}, margin={margin}", hint="use size >= 8 and margin > 0")
    if face.landmarks is not None and len(face.landmarks) in (5, 68):
        pts, tmpl = key_points(face.landmarks)
        return umeyama(pts, ((tmpl - 0.5) / margin + 0.5) * size)
    x0, y0, x1, y1 = face.box
    side = max(x1 - x0, y1 - y0) * margin
    if side <= 0:
        raise DataError("empty face box")
    s = size / side
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]])


def transform_points(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a ``(2, 3)`` affine matrix to points ``(K, 2)``."""
    pts = np.asarray(pts, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def align_face(image: np.ndarray, face: Face, *, size: int = 256,
               margin: float = 1.3) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Aligned crop ``(size, size, 3)``, its landmarks in crop pixels (or None), the matrix."""
    m = alignment_matrix(face, size=size, margin=margin)
    crop = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    lm = None if face.landmarks is None else transform_points(m, face.landmarks).astype(np.float32)
    return crop, lm, m


def iou(a, b) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def select_faces(faces_per_frame: list[list[Face]], policy: str = "largest", *,
                 iou_threshold: float = 0.3) -> list[list[tuple[int, Face]]]:
    """Apply a multi-face policy: per frame, a list of ``(face_index, face)``.

    ``largest``: the largest box only (index 0). ``all``: every face, indexed left to right.
    ``tracked``: every face; the index is a track id kept across frames by greedy IoU matching
    with each track's last box (IoU >= ``iou_threshold``), so face 1 stays the same person.
    """
    if policy not in POLICIES:
        raise ConfigError(f"policy {policy!r}", hint=f"use one of {', '.join(POLICIES)}")
    out: list[list[tuple[int, Face]]] = []
    tracks: list[tuple[float, float, float, float]] = []
    for faces in faces_per_frame:
        if policy == "largest":
            out.append([(0, max(faces, key=lambda f: f.area))] if faces else [])
        elif policy == "all":
            out.append(list(enumerate(sorted(faces, key=lambda f: (f.box[0], f.box[1])))))
        else:
            pairs = sorted(((iou(f.box, t), i, j) for i, f in enumerate(faces)
                            for j, t in enumerate(tracks)), reverse=True)
            assigned: dict[int, int] = {}
            used: set[int] = set()
            for v, i, j in pairs:
                if v < iou_threshold:
                    break
                if i not in assigned and j not in used:
                    assigned[i] = j
                    used.add(j)
            for i in sorted(range(len(faces)), key=lambda k: faces[k].box[0]):
                if i not in assigned:
                    assigned[i] = len(tracks)
                    tracks.append(faces[i].box)
                tracks[assigned[i]] = faces[i].box
            out.append(sorted(((assigned[i], f) for i, f in enumerate(faces)),
                              key=lambda p: p[0]))
    return out

