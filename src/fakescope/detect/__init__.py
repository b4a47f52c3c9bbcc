"""Inference on real media: find every face, preprocess it as the detector's training data was,
score it with P(fake), uncertainty and an out-of-distribution flag, as a stream.

API (a service loads once and scores many; ``fakescope detect`` prints exactly these objects)::

    from fakescope.detect import DetectSession, DetectOptions, iter_detect

    session = DetectSession.load("runs/r18/best", DetectOptions(uncertainty="mc_head"))
    for result in session.iter_detect(["photos/", "clip.mp4", ("upload.jpg", data)]):
        ...                                   # one dict per file, in input order, as they come
    result = session.detect(data, name="upload.jpg")          # one input: bytes or a path
    session.describe()                        # detector, preprocessing, training data, OOD

    iter_detect(inputs, "runs/r18/best", uncertainty="mc")    # load + stream in one call
    detect_images(paths, "runs/r18/best")                     # the same, as a list

Inputs: paths of files or folders (searched recursively; files whose suffix no reader knows
are listed as skipped), bytes, ``(name, bytes)`` pairs, or
:class:`~fakescope.detect.inputs.MediaInput`. Options: :class:`DetectOptions` (given to
``load`` or overridden per call: ``session.iter_detect(inputs, map_dir="maps")``). Images are
gathered until ``batch_size`` faces are waiting, then scored together; results come out in
input order, so memory holds one batch, not the folder. A session is not thread-safe.

**Preprocessing.** The checkpoint records how its training images were made
(``meta.json["preprocessing"]["faces"]``, :mod:`fakescope.data.preprocessing`); with
``faces="auto"`` every face dlib finds in a photo is aligned to the recorded 5-point template at
the recorded crop size (for SynthFaces: the mean framing of its training images; for crops of
``fakescope data faces``: its ArcFace template and margin), then resized to the detector's
input. A checkpoint without a record is treated as ``data faces`` defaults (the record in
``describe()`` says ``"assumed": True``). ``faces="none"`` scores each image as is.

**Result of an image** (``schema`` builds them)::

    {"path": "photos/group.jpg", "kind": "image",
     "verdict": "fake" | "real" | "uncertain",   # of the most-fake face; "uncertain" when it is
                                                 # out of distribution (P(fake) kept below)
     "p_fake": 0.93,                             # of the most-fake face
     "uncertainty": {"total", "aleatoric", "epistemic", "variance"},   # stochastic methods only
     "ood_score": 2.4,                           # d / tau (1 = validation 95th percentile);
     "in_distribution": false,                   #   both None without OOD statistics
     "n_faces": 3,                               # faces found (None with faces="none")
     "face": 1, "box": [x0, y0, x1, y1],         # which face gave the file's result, where
     "faces": [{"index", "box", "det_score", "p_fake", "verdict", ["uncertainty"],
                "ood_score", "in_distribution"}, ...],   # left to right; boxes in input pixels
     "faces_mode": "auto",
     "input": {"width", "height", "format", "mode", "notes": ["EXIF orientation 6 applied"]},
     "maps": {"saliency": PNG, "uncertainty": PNG}}      # with map_dir: at the input's size

**Result of a video** (frame-based detectors): ``verdict``, ``p_fake`` (mean over frames with a
face), ``uncertainty`` (of the clip: per pass, the mean over frames, then decomposed),
``ood_score`` (mean over frames), ``in_distribution``, ``n_frames_scored``,
``n_frames_sampled``, ``faces_mode``, ``frames``: ``[{"frame", "face", "box", "p_fake",
["uncertainty"], "ood_score", "in_distribution"}]`` (``p_fake`` None where no face; the largest
face of each frame), and with ``map_dir`` ``maps``: overlays of the most-fake frame at the
video's resolution. Map detectors (``ppg_map``, ``motion_map``): see
:mod:`fakescope.detect.clips`.

**Not scored**: ``{"path", "kind", "verdict": "error" | "no_face", "error": message,
"reason": code}`` (codes in :data:`fakescope.detect.schema.REASONS`: ``not_found``, ``empty``,
``truncated``, ``unreadable``, ``too_large``, ``too_small``, ``unsupported``, ``no_face``,
``video_error``, ``wrong_input``; ``worker_failed``: the task scoring it on a backend failed,
:mod:`fakescope.detect.tasks`) plus what is known (``input``, ``n_faces: 0``). A file is
scored exactly when it has no ``"error"`` key.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fakescope.detect.inputs import MediaInput, expand_inputs
from fakescope.detect.schema import REASONS, table_row, verdict
from fakescope.detect.scoring import detect_with_uncertainty
from fakescope.detect.session import FACE_MODES, UNCERTAINTY_METHODS, DetectOptions, DetectSession
from fakescope.detect.tasks import iter_detect_tasks

__all__ = ["DetectOptions", "DetectSession", "FACE_MODES", "MediaInput", "REASONS",
           "UNCERTAINTY_METHODS", "detect_images", "detect_with_uncertainty", "expand_inputs",
           "iter_detect", "iter_detect_tasks", "load_session", "table_row", "verdict"]


def load_session(checkpoints, *, device: str = "auto", **options) -> DetectSession:
    """``DetectSession.load(checkpoints, DetectOptions(**options), device=device)``."""
    return DetectSession.load(checkpoints, DetectOptions(**options), device=device)


def iter_detect(inputs, checkpoints_or_session, *, device: str = "auto",
                **options) -> Iterator[dict[str, Any]]:
    """Stream results of ``inputs`` with a session, or with checkpoints loaded for this call."""
    if isinstance(checkpoints_or_session, DetectSession):
        yield from checkpoints_or_session.iter_detect(inputs, **options)
        return
    yield from load_session(checkpoints_or_session, device=device, **options).iter_detect(inputs)


def detect_images(paths: list[str | Path], checkpoint, *, device: str = "auto",
                  **options) -> list[dict[str, Any]]:
    """Every result of :func:`iter_detect`, as a list in input order."""
    return list(iter_detect(paths, checkpoint, device=device, **options))
