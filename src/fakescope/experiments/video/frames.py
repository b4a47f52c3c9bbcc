"""Face frames of the video benchmark for the blind (image) detectors: K evenly spaced frames per
clip, cropped to the face, written once as PNGs with a frame manifest.

Frame ``k`` of a clip of ``T`` decoded frames is frame ``round(k (T - 1) / (K - 1))``
(``k = 0 .. K-1``; the middle frame when ``K = 1``). The crop is the square around that frame's
68 ground-truth landmarks (column ``landmarks_path``; the whole frame for a clip without one):
centre = centre of the landmarks' bounding box, side = ``margin`` x its longer edge, shifted to
stay inside the frame. The detector resizes the crop to its input size.

Layout (``OUT/video_frames/k<K>/``, one folder per K so another K never meets old rows)::

    <item_key(clip sample_id)>/f<k>.png
    manifest.csv     sample_id = <clip sample_id>_f<k>, video_id = the clip's sample_id, frame =
                     the decoded frame index, and the clip's label, source, identity, split,
                     domain, temporal_mode, pulse_source

Resumable: a clip whose K PNGs exist is not decoded again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fakescope.data.face_extraction import item_key
from fakescope.data.manifest import read_manifest, resolve_path, write_manifest
from fakescope.data.video_stream import read_clip
from fakescope.errors import DataError
from fakescope.signals.pipeline import load_landmarks

#: Clip columns copied to each of its frames.
CLIP_COLUMNS = ("label", "source", "identity", "split", "domain", "temporal_mode",
                "pulse_source", "skin_tone")


def frame_indices(n_frames: int, k: int) -> np.ndarray:
    """``(k,)`` evenly spaced frame indices in ``[0, n_frames - 1]`` (the middle one for k=1)."""
    if n_frames < 1 or k < 1:
        raise DataError(f"cannot sample {k} frame(s) from a clip of {n_frames}")
    if k == 1:
        return np.array([(n_frames - 1) // 2])
    return np.rint(np.linspace(0, n_frames - 1, k)).astype(int)


def face_box(points: np.ndarray, shape: tuple[int, int], margin: float = 1.4,
             ) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` of the square crop around landmarks ``points (68, 2)`` in a frame
    of ``shape (H, W)`` (see the module doc); the whole frame when the points are not finite."""
    h, w = shape
    if not np.isfinite(points).all():
        return 0, 0, w, h
    lo, hi = points.min(0), points.max(0)
    side = int(round(min(max(hi - lo) * margin, h, w)))
    cx, cy = (lo + hi) / 2
    x0 = int(np.clip(round(cx - side / 2), 0, w - side))
    y0 = int(np.clip(round(cy - side / 2), 0, h - side))
    return x0, y0, x0 + side, y0 + side


def _clip_frames(clips: pd.DataFrame, row: dict, folder: Path, k: int,
                 margin: float) -> list[int]:
    """Write the K crops of one clip into ``folder`` (when missing); their frame indices."""
    path = resolve_path(clips, row["path"])
    pngs = [folder / f"f{j}.png" for j in range(k)]
    idx_file = folder / "frames.npy"
    if all(p.is_file() for p in pngs) and idx_file.is_file():
        return np.load(idx_file).tolist()
    clip = read_clip(path)
    idx = frame_indices(len(clip.frames), k)
    lm = None
    if isinstance(row.get("landmarks_path"), str) and row["landmarks_path"]:
        lm = load_landmarks(resolve_path(clips, row["landmarks_path"]))
    folder.mkdir(parents=True, exist_ok=True)
    for png, i in zip(pngs, idx, strict=True):
        frame = clip.frames[i]
        x0, y0, x1, y1 = (face_box(lm[min(i, len(lm) - 1)], frame.shape[:2], margin)
                          if lm is not None else (0, 0, frame.shape[1], frame.shape[0]))
        if not cv2.imwrite(str(png), cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_RGB2BGR)):
            raise DataError("cannot write a frame image", path=png)
    np.save(idx_file, idx)
    return idx.tolist()


def frame_manifest(clips: pd.DataFrame, out_dir: str | Path, *, k: int = 8,
                   margin: float = 1.4,
                   progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """The frame manifest of ``clips`` (a video manifest) in ``out_dir/k<k>`` (written once;
    see the module doc), read back with its root. A clip that cannot be decoded is a
    DataError naming it (the study's clips were all decoded by the signal step before)."""
    root = Path(out_dir) / f"k{k}"
    rows = []
    for n, row in enumerate(clips.to_dict("records")):
        sid = str(row["sample_id"])
        rel = Path(item_key(sid))
        idx = _clip_frames(clips, row, root / rel, k, margin)
        base = {c: row[c] for c in CLIP_COLUMNS if c in row}
        rows.extend({"sample_id": f"{sid}_f{j}", "path": str(rel / f"f{j}.png"),
                     "video_id": sid, "frame": int(i), **base} for j, i in enumerate(idx))
        if progress:
            progress(n + 1, len(clips))
    path = write_manifest(pd.DataFrame(rows), root / "manifest.csv")
    return read_manifest(path)
