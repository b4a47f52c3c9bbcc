"""The preprocessing a detector's training images had, recorded in its checkpoint and applied
again at inference, plus a summary of the training data.

A **record** (``meta.json["preprocessing"]["faces"]``) says how a face became a training image::

    {"crop": "aligned" | "whole_image",
     "detector": "hog", "landmarks": 68, "upsample": 0,   # dlib, as `fakescope data faces` ran
     "crop_size": 256,                                    # side of the training crops (pixels)
     "margin": 1.3,                                       # crop margin around the face
     "template": [[x, y] x 5],   # eye centres, nose tip, mouth corners in unit crop coordinates
     "template_from": "...", "source": "..."}

- ``aligned``: a face-crop folder made by ``fakescope data faces`` (its ``faces_config.json``
  beside the manifest): the ArcFace 5-point template shrunk by the margin,
  ``t = (t_arcface - 0.5) / margin + 0.5`` (:mod:`fakescope.data.faces`).
- ``whole_image``: images that are face crops already (SynthFaces and other crop datasets): no
  detector ran in training; the template is the *mean* of the 5 key points of up to 200
  training images' landmarks (``landmarks_path``), in unit image coordinates, so a face found
  in a photo is framed as the training crops framed theirs. Without landmarks the template is
  the ``aligned`` default (margin 1.3).

At inference (:func:`find_faces`, :func:`face_crops`) every face of a photo is found with dlib on
a copy whose longer side is brought into ``[640, 2048]`` px (small photos are upsampled, so
faces of 40 px are found; large ones downsampled, so detection stays fast), its landmarks mapped
back to the photo, and the face warped by the similarity that takes its 5 key points onto the
template (least squares, Umeyama) into a ``crop_size`` crop, as the training crops were.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fakescope.data.faces import TEMPLATE_5, Face, alignment_matrix, key_points, umeyama
from fakescope.errors import DataError

DEFAULT_MARGIN = 1.3
DEFAULT_CROP = 256
DETECT_MIN_SIDE = 640
DETECT_MAX_SIDE = 2048
#: Eye distance of the ArcFace template in unit coordinates (margin 1).
_ARCFACE_EYES = float(np.linalg.norm(TEMPLATE_5[1] - TEMPLATE_5[0]))


def arcface_template(margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """The 5-point template ``(5, 2)`` of ``fakescope data faces`` at ``margin``."""
    return (TEMPLATE_5 - 0.5) / float(margin) + 0.5


def default_record() -> dict:
    """The record assumed for a checkpoint that has none (``"assumed": True``): the defaults
    of ``fakescope data faces`` (dlib HOG, 68 landmarks, margin 1.3, 256 px)."""
    return {"crop": "aligned", "detector": "hog", "landmarks": 68, "upsample": 0,
            "crop_size": DEFAULT_CROP, "margin": DEFAULT_MARGIN,
            "template": arcface_template().round(5).tolist(),
            "template_from": "ArcFace 5-point template at margin 1.3",
            "source": "not recorded in the checkpoint: fakescope data faces defaults assumed",
            "assumed": True}


def _image_size(path: Path) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return int(im.width), int(im.height)
    except Exception:  # noqa: BLE001 - an unreadable sample is left out of the template
        return None


def training_record(rows: pd.DataFrame, *, sample: int = 200, seed: int = 0) -> dict:
    """The preprocessing record of a training manifest ``rows`` (``attrs["root"]`` is its
    folder); see the module doc. Reads at most ``sample`` landmark files and image headers."""
    root = Path(rows.attrs.get("root") or ".")
    faces_cfg = root / "faces_config.json"
    if faces_cfg.is_file():
        cfg = json.loads(faces_cfg.read_text())
        margin = float(cfg.get("margin", DEFAULT_MARGIN))
        return {"crop": "aligned", "detector": cfg.get("detector", "hog"),
                "landmarks": int(cfg.get("landmarks", 68)), "upsample": int(cfg.get("upsample", 0)),
                "crop_size": int(cfg.get("size", DEFAULT_CROP)), "margin": margin,
                "template": arcface_template(margin).round(5).tolist(),
                "template_from": f"ArcFace 5-point template at margin {margin:g}",
                "source": f"{faces_cfg.name} (fakescope data faces)"}
    record = {"crop": "whole_image", "detector": "hog", "landmarks": 68, "upsample": 0,
              "source": "synth_config.json (SynthFaces)" if (root / "synth_config.json").is_file()
              else "training images are face crops (no faces_config.json beside the manifest)"}
    points, sizes = [], []
    if "landmarks_path" in rows.columns and len(rows):
        take = rows.sample(n=min(sample, len(rows)), random_state=seed)
        for img_rel, lm_rel in zip(take["path"], take["landmarks_path"], strict=True):
            if not isinstance(lm_rel, str) or not lm_rel:
                continue
            lm_file, img_file = root / lm_rel, root / str(img_rel)
            size = _image_size(img_file)
            if size is None or not lm_file.is_file():
                continue
            try:
                pts, _ = key_points(np.load(lm_file, allow_pickle=False))
            except (DataError, ValueError, OSError):
                continue
            if len(pts) == 5:
                points.append(pts / np.array(size, dtype=np.float64))
                sizes.append(size)
    if points:
        template = np.mean(points, axis=0)
        eyes = float(np.linalg.norm(template[1] - template[0]))
        record.update(crop_size=int(np.median([max(s) for s in sizes])),
                      margin=round(_ARCFACE_EYES / eyes, 4), template=template.round(5).tolist(),
                      template_from=f"mean key points of {len(points)} training images' "
                      "landmarks")
    else:
        sizes = [s for s in (_image_size(root / str(p)) for p in rows["path"].head(20)) if s]
        record.update(crop_size=int(np.median([max(s) for s in sizes])) if sizes else DEFAULT_CROP,
                      margin=DEFAULT_MARGIN, template=arcface_template().round(5).tolist(),
                      template_from="ArcFace 5-point template at margin 1.3 (training images "
                      "have no landmarks)")
    return record


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in values.astype(str).value_counts().sort_index().items()}


def data_summary(train: pd.DataFrame, val: pd.DataFrame) -> dict:
    """What a detector was trained on: ``{"manifest", "dataset", "rows": {"train", "val"},
    "labels": {"real", "fake"}, "sources": {name: n}, "domains": {name: n}, ...}`` over the
    training and validation rows (``domains`` and other optional parts only when the manifest
    has the column; ``synthfaces`` holds the SynthFaces version and generators when the
    manifest's folder has ``synth_config.json``)."""
    both = pd.concat([train, val], ignore_index=True)
    root = Path(train.attrs.get("root") or val.attrs.get("root") or ".")
    out: dict = {"manifest": train.attrs.get("origin") or val.attrs.get("origin"),
                 "dataset": root.name,
                 "rows": {"train": int(len(train)), "val": int(len(val))},
                 "labels": {"real": int((both["label"] == 0).sum()),
                            "fake": int((both["label"] == 1).sum())}}
    if "source" in both.columns:
        out["sources"] = _counts(both["source"])
    for col in ("dataset", "domain"):
        if col in both.columns:
            out[col + "s"] = _counts(both[col])
    synth = root / "synth_config.json"
    if synth.is_file():
        cfg = json.loads(synth.read_text())
        out["synthfaces"] = {k: cfg.get(k) for k in ("synth_version", "size", "domains",
                                                      "generators")}
    if (root / "faces_config.json").is_file():
        out["faces_config"] = json.loads((root / "faces_config.json").read_text())
    return out


# ---------------------------------------------------------------- inference

def template_of(record: dict) -> np.ndarray:
    """The record's template ``(5, 2)`` in unit crop coordinates."""
    t = np.asarray(record.get("template") or arcface_template(), dtype=np.float64)
    if t.shape != (5, 2):
        raise DataError(f"preprocessing template has shape {t.shape}, expected (5, 2)")
    return t


def crop_matrix(face: Face, record: dict) -> np.ndarray:
    """``(2, 3)`` similarity from photo pixels to a ``crop_size`` crop, as in training."""
    size = int(record.get("crop_size") or DEFAULT_CROP)
    if face.landmarks is not None and len(face.landmarks) in (5, 68):
        pts, _ = key_points(face.landmarks)
        tmpl = template_of(record)
        tmpl = tmpl if len(pts) == 5 else tmpl[:3]
        return umeyama(pts, tmpl * size)
    return alignment_matrix(face, size=size, margin=float(record.get("margin") or DEFAULT_MARGIN))


def detection_scale(height: int, width: int, *, min_side: int = DETECT_MIN_SIDE,
                    max_side: int = DETECT_MAX_SIDE) -> float:
    """Factor bringing the longer side into ``[min_side, max_side]`` (1 when it is already)."""
    longer = max(height, width)
    if longer > max_side:
        return max_side / longer
    if longer < min_side:
        return min(4.0, min_side / longer)
    return 1.0


def find_faces(image: np.ndarray, detector, *, min_face: int = 0) -> tuple[list[Face], list[Face]]:
    """Faces of an RGB ``uint8 (H, W, 3)`` photo in its own pixel coordinates, left to right:
    ``(kept, too_small)`` where faces whose box side is under ``min_face`` px are set apart.

    ``detector``: an object with ``detect(image) -> list[Face]`` (see
    :func:`fakescope.data.faces.create_face_detector`); it runs on a copy rescaled by
    :func:`detection_scale`.
    """
    h, w = image.shape[:2]
    s = detection_scale(h, w)
    work = image if s == 1.0 else cv2.resize(
        image, (max(1, round(w * s)), max(1, round(h * s))),
        interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    found = []
    for f in detector.detect(work):
        box = tuple(float(v) / s for v in f.box)
        lm = None if f.landmarks is None else (np.asarray(f.landmarks, np.float64) / s)
        found.append(Face((max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]),
                           min(float(h), box[3])), f.score, lm))
    found.sort(key=lambda f: (f.box[0], f.box[1]))
    kept = [f for f in found if min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= min_face]
    small = [f for f in found if f not in kept]
    return kept, small


def face_crops(image: np.ndarray, faces: Iterable[Face], record: dict,
               ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(crop uint8 (S, S, 3), matrix (2, 3) photo -> crop)]`` for ``faces`` of ``image``,
    ``S = record["crop_size"]`` (black outside the photo, as ``data faces`` pads)."""
    size = int(record.get("crop_size") or DEFAULT_CROP)
    out = []
    for face in faces:
        m = crop_matrix(face, record)
        crop = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        out.append((crop, m))
    return out
