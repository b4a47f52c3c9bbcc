import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from fakescope.cli.main import app
from fakescope.detect import detect_with_uncertainty
from fakescope.errors import DataError
from fakescope.uncertainty import maps


def _landmarks68(size=64):
    # a plausible frontal layout in a size x size crop
    s = size / 64
    jaw = [(8 + 48 * i / 16, 30 + 24 * np.sin(np.pi * i / 16)) for i in range(17)]
    rbrow = [(16 + 3 * i, 20) for i in range(5)]
    lbrow = [(36 + 3 * i, 20) for i in range(5)]
    nose = [(32, 24 + 3 * i) for i in range(4)] + [(28 + 2 * i, 38) for i in range(5)]
    reye = [(18, 26), (20, 25), (24, 25), (26, 26), (24, 27), (20, 27)]
    leye = [(38, 26), (40, 25), (44, 25), (46, 26), (44, 27), (40, 27)]
    mouth = [(24 + 16 * np.cos(np.pi * i / 6) * 0.5 + 8, 46 + 4 * np.sin(np.pi * i / 6))
             for i in range(12)] + [(28 + 2 * i, 46) for i in range(8)]
    return np.array(jaw + rbrow + lbrow + nose + reye + leye + mouth) * s


def test_grid_masks_partition_the_image():
    m = maps.grid_masks(10, 13, grid=3)
    assert len(m) == 9
    total = sum(v.astype(int) for v in m.values())
    assert np.all(total == 1)


def test_face_region_masks():
    m = maps.face_region_masks(_landmarks68(), 64, 64)
    assert set(m) == set(maps.FACE_REGIONS)
    assert all(v.any() for v in m.values())
    assert m["right_eye"][26, 22] and not m["right_eye"][26, 42]
    assert m["left_eye"][26, 42]
    with pytest.raises(DataError):
        maps.face_region_masks(np.zeros((5, 2)), 64, 64)


def test_occlusion_deltas_are_differences(tiny_detector, images):
    masks = maps.grid_masks(32, 32, grid=2)
    t = maps.occlusion_table(tiny_detector, images[0], masks, method="mc_head", samples=4)
    assert len(t) == 4
    clean = t.attrs["clean"]
    for k in ("p_fake", "total", "aleatoric", "epistemic", "variance"):
        np.testing.assert_allclose(t[f"delta_{k}"], t[k] - clean[k])
    # occluding a region by hand gives the same p_fake
    fill = images[0].mean(dim=(1, 2), keepdim=True)
    occ = torch.where(torch.as_tensor(masks["r0c1"])[None], fill, images[0])
    with torch.no_grad():
        p = 1 - tiny_detector(occ[None])["detect"].softmax(-1)[0, 0]
    t1 = maps.occlusion_table(tiny_detector, images[0], {"r0c1": masks["r0c1"]}, method="none")
    assert t1["p_fake"].iloc[0] == pytest.approx(float(p), abs=1e-6)
    heat = maps.regions_to_map(t, masks, "delta_p_fake")
    assert heat[0, 31] == pytest.approx(t.set_index("region").loc["r0c1", "delta_p_fake"])


def test_saliency_matches_autograd_and_variance(tiny_detector, images):
    s = maps.saliency_samples(tiny_detector, images[:2], method="none")
    x = images[:2].clone().requires_grad_(True)
    pf = 1 - tiny_detector(x)["detect"].softmax(-1)[:, 0]
    (g,) = torch.autograd.grad(pf.sum(), x)
    torch.testing.assert_close(s[0], g.abs().amax(1))
    pm = maps.pixel_maps(tiny_detector, images[:2], method="mc_head", samples=5, seed=1)
    assert pm["mean"].shape == (2, 32, 32) and np.all(pm["variance"] >= 0)
    assert pm["variance"].max() > 0
    again = maps.pixel_maps(tiny_detector, images[:2], method="mc_head", samples=5, seed=1)
    np.testing.assert_array_equal(pm["variance"], again["variance"])
    assert maps.saliency_samples(tiny_detector, images[:1], method="mc", samples=3).shape == (
        3, 1, 32, 32)


def test_localisation_auc_matches_sklearn():
    rng = np.random.default_rng(0)
    heat = rng.random((8, 8))
    mask = np.zeros((8, 8), bool)
    mask[2:5, 3:7] = True
    assert maps.localisation_auc(heat, mask) == pytest.approx(roc_auc_score(mask.ravel(),
                                                                             heat.ravel()))
    assert maps.localisation_auc(mask.astype(float), mask) == 1.0
    assert np.isnan(maps.localisation_auc(heat, np.zeros((8, 8))))
    big = np.kron(mask, np.ones((2, 2)))  # a mask of another size is resized
    assert maps.localisation_auc(mask.astype(float), big) == 1.0
    rows = __import__("pandas").DataFrame({"source": ["a", "a", "b"], "auc_x": [0.5, 0.7, 0.9]})
    by = maps.localisation_by_generator(rows)
    assert by.set_index("source").loc["a", "auc_x"] == pytest.approx(0.6)


def test_overlays_are_deterministic(tmp_path, tiny_detector, images):
    a = detect_with_uncertainty(tiny_detector, images[:2], method="mc_head", samples=4,
                                map_dir=tmp_path / "a", names=["x", "y"])
    b = detect_with_uncertainty(tiny_detector, images[:2], method="mc_head", samples=4,
                                map_dir=tmp_path / "b", names=["x", "y"])
    assert set(a[0]) == {"p_fake", "uncertainty", "maps"}
    assert set(a[0]["uncertainty"]) == {"total", "aleatoric", "epistemic", "variance"}
    for k in ("saliency", "uncertainty"):
        pa, pb = a[0]["maps"][k], b[0]["maps"][k]
        assert Path(pa).read_bytes() == Path(pb).read_bytes()
    t = detect_with_uncertainty(tiny_detector, images[:2], method="tta", samples=3,
                                map_dir=tmp_path / "t")
    assert (tmp_path / "t" / "image_00001_uncertainty.png").is_file()
    assert t[0]["uncertainty"]["total"] >= t[0]["uncertainty"]["aleatoric"] - 1e-12


def test_detect_cli_contract(tmp_path, tiny_detector):
    from typer.testing import CliRunner

    from fakescope.data.images import save_image
    from fakescope.models.checkpoint import save_detector

    save_detector(tiny_detector, tmp_path / "ckpt")
    rng = np.random.default_rng(0)
    for i in range(2):
        save_image(tmp_path / "imgs" / f"f{i}.png", rng.integers(0, 255, (40, 40, 3), np.uint8))
    res = CliRunner().invoke(app, ["detect", str(tmp_path / "imgs"), "--model",
                                   str(tmp_path / "ckpt"), "--uncertainty", "mc", "--samples",
                                   "4", "--map", str(tmp_path / "maps"), "--json",
                                   "--faces", "none"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert len(out) == 2 and {"path", "p_fake", "uncertainty"} <= set(out[0])
    assert set(out[0]["uncertainty"]) == {"total", "aleatoric", "epistemic", "variance"}
    assert len(list((tmp_path / "maps").glob("*.png"))) == 4
