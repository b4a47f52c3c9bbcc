import pytest
import torch

from fakescope.errors import ModelError
from fakescope.models import create_detector, list_detectors, p_fake
from fakescope.models.checkpoint import load_detector, save_detector

RESEARCH_DETECTORS = {"resnet18", "xception", "efficientnet_b0", "efficientnet_b4",
                      "mobilenetv3", "meso4"}


def test_research_detectors_registered():
    assert set(list_detectors()) >= RESEARCH_DETECTORS


@pytest.mark.parametrize("name,size", [("tiny", 32), ("meso4", 64), ("resnet18", 32),
                                       ("mobilenetv3_small", 32)])
def test_heads_shapes(name, size):
    m = create_detector(name, num_classes=4, heads={"group": 8}, dropout=0.5).eval()
    out = m(torch.rand(3, 3, size, size))
    assert out["detect"].shape == (3, 4) and out["group"].shape == (3, 8)
    feats = m.features(torch.rand(3, 3, size, size))
    assert feats.shape == (3, m.feature_dim)


def test_dropout_before_each_head_is_the_mc_hook():
    m = create_detector("tiny", dropout=0.5)
    feats = torch.ones(64, m.feature_dim)
    m.train()
    a, b = m.forward_heads(feats)["detect"], m.forward_heads(feats)["detect"]
    assert not torch.allclose(a, b)
    m.eval()
    assert torch.allclose(m.forward_heads(feats)["detect"], m.forward_heads(feats)["detect"])


def test_normalisation_inside_model():
    m = create_detector("tiny").eval()
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(m(x)["detect"], m.forward_heads(m.backbone((x - m.mean) / m.std))["detect"])


def test_p_fake():
    probs = torch.tensor([[0.7, 0.3], [0.1, 0.2]])
    assert torch.allclose(p_fake(probs), torch.tensor([0.3, 0.9]))


def test_checkpoint_roundtrip(tmp_path):
    m = create_detector("tiny", num_classes=3, class_names=["real", "a", "b"], heads={"g": 2},
                        dropout=0.1, image_size=48).eval()
    save_detector(m, tmp_path / "ck", {"metrics": {"auc": 0.9}})
    m2, meta = load_detector(tmp_path / "ck" / "model.safetensors")
    assert meta["architecture"]["image_size"] == 48 and meta["metrics"]["auc"] == 0.9
    assert m2.class_names == ["real", "a", "b"]
    x = torch.rand(2, 3, 48, 48)
    assert torch.equal(m(x)["detect"], m2(x)["detect"])


def test_local_backbone_weights(tmp_path):
    from safetensors.torch import save_file

    src = create_detector("tiny")
    save_file({k: v.contiguous() for k, v in src.backbone.state_dict().items()},
              str(tmp_path / "w.safetensors"))
    dst = create_detector("tiny", checkpoint_path=tmp_path / "w.safetensors")
    for k, v in src.backbone.state_dict().items():
        assert torch.equal(v, dst.backbone.state_dict()[k])
    with pytest.raises(ModelError, match="backbone tensors match"):
        create_detector("resnet18", checkpoint_path=tmp_path / "w.safetensors")


def test_errors():
    with pytest.raises(ModelError, match="unknown detector"):
        create_detector("nonexistent")
    with pytest.raises(ModelError, match="checkpoint not found"):
        load_detector("/nonexistent/ck")


def test_efficientnet_lite0_pretrained_offline_from_package():
    from fakescope.models.lite0 import load_lite0_state_dict

    m = create_detector("efficientnet_lite0", pretrained=True)
    ref = load_lite0_state_dict()
    for k, v in m.backbone.state_dict().items():
        if k in ref:
            assert torch.equal(v, ref[k]), k
    assert m(torch.rand(1, 3, 64, 64))["detect"].shape == (1, 2)
