"""Fixtures of the service tests: a client over two tiny detectors, media bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")


def png_bytes(size=(32, 32), *, seed: int = 0, mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).convert(mode).save(buf, format="PNG")
    return buf.getvalue()


def video_bytes(tmp_path, *, frames: int = 12, size: int = 32, seed: int = 0) -> bytes:
    from fakescope.data.video import write_video

    rng = np.random.default_rng(seed)
    path = write_video(tmp_path / f"clip{seed}.mp4",
                       [rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
                        for _ in range(frames)], fps=10)
    return path.read_bytes()


def make_settings(models, data_dir, **kw):
    from fakescope.serve.limits import Limits
    from fakescope.serve.settings import ServeSettings

    limits = kw.pop("limits", None) or Limits(video_frames=6)
    return ServeSettings(models=[str(m) for m in models], data_dir=data_dir, samples=4,
                         faces=kw.pop("faces", "none"), limits=limits, **kw)


@pytest.fixture(scope="session")
def toy_best(toy_checkpoint):
    """The toy run's best checkpoint folder (a tiny detector, 32 px, head dropout)."""
    return toy_checkpoint / "best"


@pytest.fixture
def make_client(toy_best, tmp_path):
    """``make_client(**settings)`` -> a started TestClient over the toy checkpoint twice."""
    from fastapi.testclient import TestClient

    from fakescope.serve.app import create_app

    clients = []

    def make(models=None, **kw):
        settings = make_settings(models or [toy_best, toy_best],
                                 kw.pop("data_dir", tmp_path / "data"), **kw)
        c = TestClient(create_app(settings, background_load=False))
        c.__enter__()
        clients.append(c)
        return c

    def close(c):
        clients.remove(c)
        c.__exit__(None, None, None)

    make.close = close
    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()
