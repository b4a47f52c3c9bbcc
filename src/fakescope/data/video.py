"""Video files: probe, sample frames evenly, decode with OpenCV, write small test videos.

Frames are RGB ``uint8`` arrays of shape ``(H, W, 3)``.

Sampling: ``num_frames = N`` takes the centre of each of N equal segments of the video,
``index_i = floor((i + 0.5) * T / N)`` for ``i = 0..N-1`` (T = frame count), so the frames
cover the whole clip. DeepfakeBench's loaders instead keep the *first* N frames of a video's
frame list (``frames[:frame_num]``), which covers only the clip's first second or so when more
frames were extracted: a known bug its users report, not reproduced here. ``stride = s`` takes
frames ``0, s, 2s, ...``.

OpenCV stops at the first frame it cannot decode and knows nothing of time stamps. For per-frame
time stamps (variable frame rate), phone rotation, skipping and counting damaged frames, and for
writing H.264 (libx264, CRF) use :mod:`fakescope.data.video_stream` (PyAV).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fakescope.errors import ConfigError, DataError


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video (``frame_count`` may be 0 when unknown)."""

    path: str
    frame_count: int
    fps: float
    width: int
    height: int


def _open(path: Path) -> cv2.VideoCapture:
    if not path.is_file():
        raise DataError("video not found", path=path)
    if path.stat().st_size == 0:
        raise DataError("zero-length file (0 bytes)", path=path)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise DataError("unreadable video (OpenCV cannot open it; corrupt or unknown codec)",
                        path=path)
    return cap


def probe_video(path: str | Path) -> VideoInfo:
    """Open a video and read its header; DataError if missing, empty or unreadable."""
    path = Path(path)
    cap = _open(path)
    try:
        return VideoInfo(str(path), max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0),
                         float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
                         int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                         int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    finally:
        cap.release()


def sample_indices(total: int, *, num_frames: int | None = None,
                   stride: int | None = None) -> np.ndarray:
    """Frame indices to decode from a video of ``total`` frames (int64, sorted, unique).

    ``num_frames``: N evenly spaced (segment centres, see module doc); all frames if N >= total.
    ``stride``: every s-th frame from 0. Neither: all frames. Both: ConfigError.
    """
    if num_frames is not None and stride is not None:
        raise ConfigError("give num_frames or stride, not both")
    if total <= 0:
        return np.zeros(0, dtype=np.int64)
    if stride is not None:
        if stride < 1:
            raise ConfigError(f"stride={stride}", hint="use a stride >= 1")
        return np.arange(0, total, stride, dtype=np.int64)
    if num_frames is None or num_frames >= total:
        return np.arange(total, dtype=np.int64)
    if num_frames < 1:
        raise ConfigError(f"num_frames={num_frames}", hint="use at least 1 frame")
    return np.floor((np.arange(num_frames) + 0.5) * total / num_frames).astype(np.int64)


def _count_frames(path: Path) -> int:
    cap = _open(path)
    n = 0
    try:
        while cap.grab():
            n += 1
    finally:
        cap.release()
    return n


def read_frames(path: str | Path, *, num_frames: int | None = None, stride: int | None = None,
                indices: Iterable[int] | None = None) -> list[tuple[int, np.ndarray]]:
    """Decode the sampled frames of a video: ``[(frame_index, rgb (H, W, 3) uint8), ...]``.

    Frames are read in order with ``grab`` (skipped frames are not converted), which is exact
    for every codec, unlike seeking. When the header has no frame count the frames are counted
    first. A file that ends early (truncated) returns the frames it has; DataError when no
    frame decodes at all, naming the file and the reason.
    """
    path = Path(path)
    if indices is None:
        total = probe_video(path).frame_count or _count_frames(path)
        if total == 0:
            raise DataError("video has no decodable frames", path=path)
        wanted = sample_indices(total, num_frames=num_frames, stride=stride)
    else:
        wanted = np.unique(np.asarray(list(indices), dtype=np.int64))
    want = set(wanted.tolist())
    last = int(wanted.max()) if len(wanted) else -1
    out: list[tuple[int, np.ndarray]] = []
    cap = _open(path)
    try:
        i = 0
        while i <= last and cap.grab():
            if i in want:
                ok, bgr = cap.retrieve()
                if ok and bgr is not None:
                    out.append((i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
            i += 1
    finally:
        cap.release()
    if not out:
        raise DataError("video has no decodable frames (corrupt or truncated)", path=path)
    return out


def write_video(path: str | Path, frames: Iterable[np.ndarray], *, fps: float = 25.0) -> Path:
    """Write RGB frames ``(H, W, 3) uint8`` to a video (``.mp4``: mp4v, ``.avi``: MJPG).

    Meant for tests, demos and benchmarks; every frame must have the first frame's size.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = list(frames)
    if not frames:
        raise DataError("no frames to write", path=path)
    h, w = frames[0].shape[:2]
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, float(fps), (w, h))
    if not writer.isOpened():
        raise DataError("OpenCV cannot write this video format", path=path,
                        hint="use .mp4 (mp4v) or .avi (MJPG)")
    try:
        for f in frames:
            if f.shape[:2] != (h, w):
                raise DataError(f"frame size {f.shape[:2]} differs from {(h, w)}", path=path)
            writer.write(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path
