"""A tiny SynthFaces video benchmark for the map detectors' tests, built once per test session.

Six identities, one 4.5 s clip each (135 frames at 30 fps: three 64-frame windows) plus its sbi
fake, 48 px, studio: splits 4 / 1 / 1 identities (8 / 2 / 2 clips). ``build_video_benchmark``
reuses a finished folder, so every test module that asks gets the same clips for the cost of
one build (~15 s on 2 cores); the same holds for its signals (:func:`tiny_signals`, ~5 s).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pandas as pd

from fakescope.data.synthfaces.video_build import build_video_benchmark
from fakescope.data.video_stream import iter_frames, write_clip
from fakescope.signals.pipeline import extract_signals

OPTIONS = {"identities": 6, "clips_per_identity": 1, "seconds": 4.5, "size": 48,
           "domains": ("studio",), "generators": ("sbi",)}


def tiny_video(base: str | Path) -> tuple[Path, pd.DataFrame]:
    """``(manifest path, manifest)`` of the benchmark in ``base/bio_video``."""
    root = Path(base) / "bio_video"
    return root / "manifest.csv", build_video_benchmark(root, **OPTIONS)


def tiny_signals(base: str | Path) -> Path:
    """The benchmark's signals (ground-truth landmarks, no flow: what ppg_map reads) in
    ``base/bio_video_signals``, extracted once per session; a run given it as
    ``data.signals_dir`` decodes nothing."""
    _, rows = tiny_video(base)
    out = Path(base) / "bio_video_signals"
    extract_signals(rows, out, landmarks="manifest", flow="none", progress=False)
    return out


def upscaled_clip(src: str | Path, dst: str | Path, side: int = 160) -> Path:
    """``src`` resized to ``side`` px (H.264, CRF 4): dlib's HOG needs a face of ~80 px, and
    the benchmark's are smaller, so ``fakescope detect`` gets this copy."""
    if not Path(dst).is_file():
        frames = [cv2.resize(f, (side, side), interpolation=cv2.INTER_CUBIC)
                  for _, f in iter_frames(src)]
        write_clip(dst, frames, 30.0, codec="h264", crf=4)
    return Path(dst)
