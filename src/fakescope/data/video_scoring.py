"""Score one video with a detector: sample frames, find and align the face, average P(fake).

``video_score = mean_f p_fake(f)`` over the sampled frames where a face was found (the same
mean aggregation as :func:`fakescope.metrics.video.aggregate_videos`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from fakescope.data.dataset import resize_to_tensor
from fakescope.data.faces import align_face, create_face_detector, select_faces
from fakescope.data.video import read_frames
from fakescope.errors import DataError
from fakescope.models.predict import predict


def score_video(model: torch.nn.Module, path: str | Path, *, frames: int = 32,
                face_extractor="hog", device: str | torch.device | None = None,
                image_size: int | None = None, crop_size: int = 256, margin: float = 1.3,
                batch_size: int = 32) -> dict[str, Any]:
    """Score a video file.

    ``model``: a Detector (``forward(x: (N, 3, H, W) in [0, 1]) -> {"detect": (N, C)}``).
    ``frames``: N evenly spaced frames. ``face_extractor``: ``"hog"``/``"cnn"``, an object with
    ``detect(image) -> list[Face]`` (the largest face is aligned like ``fakescope data faces``
    does: ``crop_size``, ``margin``), or None to score whole frames. ``image_size``: model input
    size (default ``model.arch["image_size"]``, else 224).

    Returns ``{"path", "video_score", "n_scored", "n_sampled", "frames": [{"frame", "p_fake"
    (None without a face), "face": bool, "box"}]}``. DataError when no sampled frame has a face.
    """
    path = Path(path)
    size = int(image_size or getattr(model, "arch", {}).get("image_size", 224))
    decoded = read_frames(path, num_frames=frames)
    det = None if face_extractor is None else create_face_detector(face_extractor)
    records, tensors = [], []
    chosen = select_faces([det.detect(img) for _, img in decoded], "largest") if det else None
    for k, (idx, img) in enumerate(decoded):
        rec = {"frame": int(idx), "p_fake": None, "face": det is None, "box": None}
        if det is None:
            tensors.append(resize_to_tensor(img, size))
        elif chosen[k]:
            face = chosen[k][0][1]
            crop, _, _ = align_face(img, face, size=crop_size, margin=margin)
            tensors.append(resize_to_tensor(crop, size))
            rec.update(face=True, box=[round(float(v), 1) for v in face.box])
        records.append(rec)
    if not tensors:
        raise DataError(f"no face found in any of {len(decoded)} sampled frames", path=path,
                        hint="score whole frames instead (face_extractor=None)")
    pf = predict(model, torch.stack(tensors), method="none", batch_size=batch_size,
                 device=device).p_fake.tolist()
    it = iter(pf)
    for rec in records:
        if rec["face"]:
            rec["p_fake"] = float(next(it))
    return {"path": str(path), "video_score": float(np.mean(pf)), "n_scored": len(pf),
            "n_sampled": len(decoded), "frames": records}
