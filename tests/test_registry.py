import pytest
import torch

from fakescope.data.adapters import get_layout, list_layouts, register_layout
from fakescope.data.generators import (
    Generator,
    create_generator,
    list_generators,
    register_generator,
)
from fakescope.errors import ConfigError, ModelError
from fakescope.models import (
    create_detector,
    create_feature_extractor,
    feature_extractors,
    list_detectors,
    list_feature_extractors,
    register_detector,
    register_feature_extractor,
)
from fakescope.models.lite0 import lite0_backbone
from fakescope.models.registry import detector_spec
from fakescope.registry import Registry
from fakescope.train.losses import create_loss, list_losses, register_loss


def _reg():
    reg = Registry("widget", error=ModelError, also="ext:<name>")
    reg.register("alpha", colour="red")(lambda **kw: ("alpha", kw))
    reg.add("beta", lambda **kw: ("beta", kw))
    reg.add("alphabet", dict)
    return reg


# ------------------------------------------------------------------ the helper

def test_register_create_get_info():
    reg = _reg()
    assert reg.create("alpha", size=3) == ("alpha", {"size": 3})
    assert reg.get("beta")() == ("beta", {})
    assert reg.info("alpha") == {"colour": "red"} and reg.info("beta") == {}
    assert "alpha" in reg and "gamma" not in reg and len(reg) == 3
    assert list(reg) == ["alpha", "alphabet", "beta"]


def test_duplicate_name_refused_and_first_kept():
    reg = _reg()
    first = reg.get("alpha")
    with pytest.raises(ValueError, match="widget 'alpha' is already registered"):
        reg.add("alpha", lambda: None)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("beta")(dict)
    assert reg.get("alpha") is first


def test_list_with_fnmatch_pattern():
    reg = _reg()
    assert reg.list() == ["alpha", "alphabet", "beta"]
    assert reg.list("alpha*") == ["alpha", "alphabet"]
    assert reg.list("*ta") == ["beta"]
    assert reg.list("?lpha") == ["alpha"]
    assert reg.list("[ab]eta") == ["beta"]
    assert reg.list("ALPHA") == []  # case-sensitive
    assert reg.list("nothing*") == []


def test_unknown_name_names_it_and_lists_known():
    reg = _reg()
    with pytest.raises(ModelError, match="unknown widget 'gamma'") as exc:
        reg.get("gamma")
    assert exc.value.hint == "choose one of alpha, alphabet, beta or ext:<name>"
    with pytest.raises(ModelError, match="unknown widget"):
        reg.create("gamma")
    with pytest.raises(ConfigError, match="unknown thing 'x'"):
        Registry("thing").get("x")  # ConfigError by default


# ------------------------------------------------------------------ the five families

def test_every_family_refuses_a_duplicate_of_a_builtin():
    with pytest.raises(ValueError, match="already registered"):
        register_detector("resnet18", description="again")(lambda **kw: None)
    with pytest.raises(ValueError, match="already registered"):
        register_feature_extractor("fft", task="handcrafted", description="again")(dict)
    with pytest.raises(ValueError, match="already registered"):
        register_loss("ce")(dict)

    class Again(Generator):
        name = "sbi"

    with pytest.raises(ValueError, match="already registered"):
        register_generator(Again)
    with pytest.raises(ValueError, match="already registered"):
        register_layout("ffpp")(lambda root: None)
    # the built-ins are untouched
    assert type(create_generator("sbi")).__name__ == "SelfBlend"
    assert get_layout("ffpp").__name__ == "index_ffpp"
    assert type(create_loss("ce")).__name__ == "CrossEntropy"


def test_every_family_lists_by_pattern():
    assert list_detectors("efficientnet_b*") == ["efficientnet_b0", "efficientnet_b4"]
    assert list_detectors("mobilenetv3*") == ["mobilenetv3", "mobilenetv3_small"]
    assert list_feature_extractors("timm:vit*") == [
        "timm:vit_base_patch16_224.mae", "timm:vit_small_patch16_224.augreg_in21k_ft_in1k",
        "timm:vit_small_patch16_224.dino"]
    assert list_feature_extractors("random:*", offline_only=True) == ["random:resnet18"]
    assert list_losses("*") == list_losses()
    assert {"bayes", "ce", "dro", "group_reweight", "multitask"} <= set(list_losses())
    assert list_generators("*swap") == ["face_swap", "eigenswap"]  # canonical order kept
    assert list_generators()[:2] == ["face_swap", "sbi"]
    assert list_layouts("d*") == ["deepfakebench", "df40", "dfdc"]


def test_every_family_reports_unknown_names_with_the_known_ones():
    with pytest.raises(ModelError, match="unknown detector 'nope'") as exc:
        create_detector("nope")
    assert "resnet18" in exc.value.hint and "timm:<model>" in exc.value.hint
    with pytest.raises(ModelError, match="unknown backbone 'nope'") as exc:
        create_feature_extractor("nope")
    assert "fft" in exc.value.hint and "random:<model>" in exc.value.hint
    with pytest.raises(ConfigError, match="unknown loss 'nope'") as exc:
        create_loss("nope")
    assert "ce" in exc.value.hint
    with pytest.raises(ConfigError, match="unknown generator 'nope'") as exc:
        create_generator("nope")
    assert "sbi" in exc.value.hint
    with pytest.raises(ConfigError, match="unknown dataset layout 'nope'") as exc:
        get_layout("nope")
    assert "ffpp" in exc.value.hint


def test_efficientnet_lite0_detector_and_feature_extractor_share_one_builder(monkeypatch):
    assert detector_spec("efficientnet_lite0").builder is lite0_backbone
    calls = []

    def stub(**kw):
        calls.append(kw)
        return torch.nn.Identity(), 7, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)

    monkeypatch.setattr(feature_extractors, "lite0_backbone", stub)
    fx = create_feature_extractor("efficientnet_lite0", device="cpu")
    assert calls == [{"pretrained": True, "weights_path": None}]
    assert fx.feature_dim == 7 and fx.mean == (0.5, 0.5, 0.5)
