"""Shared fixtures: a tiny on-disk dataset and a trained tiny checkpoint (built once per run)."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

from tests._dummies.toy import make_toy_dataset  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def toy_manifest(tmp_path_factory):
    return make_toy_dataset(tmp_path_factory.mktemp("toy"), n=120, strength=70)


@pytest.fixture(scope="session")
def toy_checkpoint(toy_manifest, tmp_path_factory):
    """A tiny detector trained 2 epochs on the toy dataset; returns its run folder."""
    from fakescope.config import load_config
    from fakescope.train.run import fit_or_reuse

    out = tmp_path_factory.mktemp("run")
    cfg = load_config(None, [f"data.manifest={toy_manifest}", "data.image_size=32",
                             "model.name=tiny", "train.epochs=2", "train.batch_size=16",
                             "optim.lr=0.01", "train.progress=false"])
    fit_or_reuse(cfg, out=out)
    return out


@pytest.fixture
def tiny_detector():
    """An untrained tiny detector with head dropout 0.5, 32 px, eval mode."""
    from fakescope.models import create_detector

    torch.manual_seed(0)
    return create_detector("tiny", dropout=0.5, image_size=32).eval()


@pytest.fixture
def images():
    """Six random images ``(6, 3, 32, 32)`` in [0, 1]."""
    g = torch.Generator().manual_seed(1)
    return torch.rand(6, 3, 32, 32, generator=g)
