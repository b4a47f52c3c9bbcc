"""The map CNN detectors: registry entries, shapes, identity normalisation, weights, MC dropout,
Bayesian conversion and checkpoints, and a few training steps that separate pulse from
no-pulse PPG maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fakescope.errors import ModelError
from fakescope.models import create_detector, list_detectors
from fakescope.models.bayesian import BayesConv2d, bayesianize, is_bayesian
from fakescope.models.bio import MapCNN
from fakescope.models.checkpoint import load_detector, save_detector
from fakescope.models.predict import predict
from fakescope.models.registry import detector_spec
from fakescope.signals.maps import MapSpec, ppg_maps


@pytest.fixture
def maps():
    return torch.randn(5, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def test_registered_with_map_size_and_identity_normalisation(maps):
    assert {"ppg_map", "motion_map"} <= set(list_detectors("*_map"))
    for name in ("ppg_map", "motion_map"):
        spec = detector_spec(name)
        assert spec.default_size == 64 and "map" in spec.description
        torch.manual_seed(0)
        m = create_detector(name, num_classes=2, dropout=0.3).eval()
        assert m.arch == {"name": name, "image_size": 64} and m.feature_dim == 64
        assert torch.equal(m.normalize(maps), maps)
        assert m(maps)["detect"].shape == (5, 2)
        for shape in ((2, 3, 64, 48), (2, 3, 90, 64), (2, 3, 5, 7)):  # any map size
            assert m(torch.randn(shape))["detect"].shape == (2, 2)


def test_backbone_is_three_conv_blocks_with_block_dropout():
    m = create_detector("ppg_map", block_dropout=0.25)
    convs = [c for c in m.backbone.modules() if isinstance(c, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (3, 32, (3, 3)), (32, 64, (3, 3)), (64, 64, (3, 3))]
    assert sum(isinstance(c, nn.BatchNorm2d) for c in m.backbone.modules()) == 3
    assert [d.p for d in m.backbone.modules() if isinstance(d, nn.Dropout2d)] == [0.25, 0.25]
    assert m.arch["block_dropout"] == 0.25
    assert [d.p for d in MapCNN().modules() if isinstance(d, nn.Dropout2d)] == [0.1, 0.1]
    with pytest.raises(ModelError):
        MapCNN(1.0)


def test_no_pretrained_weights_but_a_local_file_loads(tmp_path):
    with pytest.raises(ModelError, match="no pretrained weights for ppg_map"):
        create_detector("ppg_map", pretrained=True)
    src = create_detector("motion_map")
    torch.save(src.backbone.state_dict(), tmp_path / "bb.pth")
    m = create_detector("motion_map", pretrained=True, checkpoint_path=tmp_path / "bb.pth")
    w = m.backbone.block3[0].weight
    assert torch.equal(w, src.backbone.block3[0].weight)


def test_mc_dropout_and_bayesian_sampling_vary(maps, tmp_path):
    torch.manual_seed(0)
    m = create_detector("ppg_map", num_classes=2, dropout=0.3).eval()
    p = predict(m, maps, method="mc", samples=4).probs
    assert p.shape == (4, 5, 2) and p[..., 1].var(0).min() > 0
    assert torch.equal(predict(m, maps).probs, predict(m, maps).probs)  # eval: deterministic
    # block dropout alone (no head dropout) still samples
    m0 = create_detector("ppg_map", dropout=0.0).eval()
    assert predict(m0, maps, method="mc", samples=4).probs[..., 1].var(0).min() > 0
    b = bayesianize(create_detector("ppg_map"), heads=True, last_stage=True,
                    posterior_sigma=0.05).eval()
    assert is_bayesian(b)
    assert sum(isinstance(c, BayesConv2d) for c in b.backbone.block3.modules()) == 1
    assert not any(isinstance(c, BayesConv2d) for c in b.backbone.block1.modules())
    pb = predict(b, maps, method="bnn", samples=4).probs
    assert pb.shape == (4, 5, 2) and pb[..., 1].var(0).min() > 0
    save_detector(b, tmp_path / "ck", {"epoch": 1})
    back, _ = load_detector(tmp_path / "ck")
    assert is_bayesian(back) and back.arch["name"] == "ppg_map"
    assert torch.allclose(back(maps)["detect"], b(maps)["detect"])


def pulse_maps(pulse: bool, clips: int, seed: int) -> torch.Tensor:
    """PPG maps of ``clips`` synthetic 4 s grid traces (30 fps) with a 0.9-2 Hz pulse or none."""
    rng = np.random.default_rng(seed)
    t = np.arange(120) / 30.0
    out = []
    for _ in range(clips):
        hz = rng.uniform(0.9, 2.0)
        p = np.sin(2 * np.pi * hz * t[:, None] + rng.uniform(0, 6, 32)) * pulse  # (120, 32)
        x = np.array([170.0, 120.0, 100.0]) * (1 + 0.01 * p[..., None] * [0.3, 0.8, 0.5])
        x = x + rng.normal(0, 0.15, x.shape)
        out.append(ppg_maps(x, 30.0, MapSpec("ppg", stride=16))[0])
    return torch.from_numpy(np.concatenate(out))


def test_a_few_steps_separate_pulse_from_no_pulse_maps():
    x = torch.cat([pulse_maps(False, 2, 0), pulse_maps(True, 2, 1)])  # 8 + 8 maps
    y = torch.tensor([0] * (len(x) // 2) + [1] * (len(x) // 2))
    torch.manual_seed(0)
    m = create_detector("ppg_map", dropout=0.2)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        m.train()
        loss = F.cross_entropy(m(x)["detect"], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:3])
    test = torch.cat([pulse_maps(False, 1, 2), pulse_maps(True, 1, 3)])  # unseen clips
    p = predict(m, test).p_fake
    assert p[4:].min() > p[:4].max()
