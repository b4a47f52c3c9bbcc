"""Fixture builders for the adapter tests: tiny real video files and images in exact layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fakescope.data.images import save_image
from fakescope.data.video import write_video


def _video(path: Path, frames: int = 3) -> Path:
    rng = np.random.default_rng(len(str(path)))
    return write_video(path, [rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
                              for _ in range(frames)], fps=5)


def _image(path: Path) -> Path:
    return save_image(path, np.full((16, 16, 3), 128, np.uint8))


@pytest.fixture
def make_video():
    """``make_video(path, frames=3)`` writes a 16x16 mp4v video (avi: MJPG)."""
    return _video


@pytest.fixture
def make_image():
    """``make_image(path)`` writes a 16x16 grey PNG/JPEG."""
    return _image
