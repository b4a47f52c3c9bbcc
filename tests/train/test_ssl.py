import json

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from fakescope.data.images import save_image
from fakescope.data.manifest import read_manifest, write_manifest
from fakescope.models.feature_extractors import create_feature_extractor
from fakescope.train.ssl import SimCLRConfig, nt_xent, pretrain_simclr


def _naive_nt_xent(z1, z2, t):
    z = F.normalize(torch.cat([z1, z2]), dim=1).double()
    n = len(z1)
    total = 0.0
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        num = torch.exp(z[i] @ z[pos] / t)
        den = sum(torch.exp(z[i] @ z[j] / t) for j in range(2 * n) if j != i)
        total += -torch.log(num / den)
    return total / (2 * n)


def test_nt_xent_matches_naive_loop():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    assert float(nt_xent(z1, z2, 0.3)) == pytest.approx(float(_naive_nt_xent(z1, z2, 0.3)),
                                                        rel=1e-5)
    # identical views far from the others -> loss near its minimum
    far = torch.eye(4) * 10
    assert float(nt_xent(far, far, 0.1)) < 1e-3


def _manifest(tmp_path, n=8, bad=True):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        p = tmp_path / f"img{i}.png"
        save_image(p, rng.integers(0, 256, (24, 24, 3), dtype=np.uint8))
        rows.append({"sample_id": f"s{i}", "path": p.name, "label": i % 2,
                     "source": "real" if i % 2 == 0 else "gen"})
    if bad:
        (tmp_path / "broken.png").write_bytes(b"not an image")
        rows.append({"sample_id": "bad", "path": "broken.png", "label": 0, "source": "real"})
    write_manifest(pd.DataFrame(rows), tmp_path / "m.csv")
    return read_manifest(tmp_path / "m.csv")


@pytest.mark.slow
def test_pretrain_simclr_is_seeded_and_loads_as_backbone(tmp_path):
    df = _manifest(tmp_path)
    cfg = SimCLRConfig(arch="test_efficientnet", image_size=16, epochs=2, batch_size=4, seed=3,
                       device="cpu")
    meta = pretrain_simclr(df, tmp_path / "a", cfg)
    pretrain_simclr(df, tmp_path / "b", cfg)
    assert meta["n_images"] == 4 and meta["n_skipped"] == 1  # real faces only, bad one skipped
    assert (tmp_path / "a" / "skipped.csv").is_file()
    for f in ("model.safetensors", "meta.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    assert json.loads((tmp_path / "a" / "meta.json").read_text())["method"] == "simclr"
    bb = create_feature_extractor("simclr", checkpoint_path=tmp_path / "a")
    assert bb.task == "self_supervised" and bb.image_size == 16
    crops = [np.full((20, 20, 3), v, np.uint8) for v in (10, 200)]
    f = bb.extract(crops)
    assert f.shape == (2, bb.feature_dim) and np.isfinite(f).all()
