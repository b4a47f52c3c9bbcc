import numpy as np
import pytest
import torch

from fakescope.errors import ConfigError
from fakescope.models import create_detector
from fakescope.robustness.perturb import blur, jpeg, noise, perturb, resize
from fakescope.robustness.sweep import robustness_sweep


def _img():
    g = torch.Generator().manual_seed(0)
    return torch.rand(3, 3, 16, 16, generator=g)


def test_perturbations_shape_range_and_strength_order():
    x = _img()
    for kind, weak, strong in [("jpeg", 95, 10), ("blur", 0.5, 3.0), ("noise", 0.01, 0.2),
                               ("resize", 0.9, 0.25)]:
        a, b = perturb(x, kind, weak, seed=1), perturb(x, kind, strong, seed=1)
        assert a.shape == x.shape and a.dtype == torch.float32
        assert b.min() >= 0 and b.max() <= 1
        assert (b - x).abs().mean() > (a - x).abs().mean(), kind
    assert torch.equal(noise(x, 0.1, seed=4), noise(x, 0.1, seed=4))
    assert torch.equal(blur(x, 0), x)
    torch.testing.assert_close(resize(x, 1.0), x)


def test_blur_of_constant_and_jpeg_matches_cv2():
    import cv2

    c = torch.full((1, 3, 8, 8), 0.4)
    torch.testing.assert_close(blur(c, 1.5), c)
    x = _img()[:1]
    arr = (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", arr[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 40])
    ref = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1] / 255.0
    np.testing.assert_allclose(jpeg(x, 40)[0].permute(1, 2, 0).numpy(), ref, atol=1e-6)
    with pytest.raises(ConfigError):
        perturb(x, "swirl", 1)
    with pytest.raises(ConfigError):
        jpeg(x, 0)


def test_sweep_table():
    torch.manual_seed(0)
    model = create_detector("tiny", dropout=0.3, image_size=32).eval()
    x = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    y = np.array([0, 1] * 4)
    t = robustness_sweep(model, x, y, kinds=("noise", "fgsm"), levels={"noise": (0.1,),
                         "fgsm": (8 / 255,)}, samples=4, pgd_steps=2)
    assert list(t["kind"]) == ["noise", "noise", "fgsm", "fgsm"]
    assert list(t["strength"])[:2] == [0.0, 0.1]
    for col in ("auc", "accuracy", "total", "aleatoric", "epistemic", "variance",
                "wrong_confident", "unc_rises"):
        assert col in t.columns
    assert t["accuracy"].between(0, 1).all() and t["wrong_confident"].between(0, 1).all()
    # FGSM on the deterministic model lowers accuracy (or leaves it at 0)
    assert t["accuracy"].iloc[3] <= t["accuracy"].iloc[2]
