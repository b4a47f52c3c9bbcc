import pytest
import torch

from fakescope.errors import ConfigError
from fakescope.models import create_detector
from fakescope.robustness.attacks import attack, fake_bce, fgsm, pgd


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = create_detector("tiny", dropout=0.3, image_size=32).eval()
    x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    return model, x, y


def _loss(model, x, y):
    with torch.no_grad():
        return fake_bce(model(x)["detect"], y)


def test_fake_bce_matches_binary_cross_entropy():
    logits = torch.randn(5, 2)
    y = torch.tensor([0, 1, 1, 0, 1])
    ref = torch.nn.functional.binary_cross_entropy(logits.softmax(-1)[:, 1], y.float(),
                                                   reduction="none")
    torch.testing.assert_close(fake_bce(logits, y), ref)
    # multi-class: P(fake) = 1 - P(real)
    z = torch.randn(4, 4)
    p_fake = 1 - z.softmax(-1)[:, 0]
    y = torch.tensor([1, 0, 1, 0])
    ref = torch.nn.functional.binary_cross_entropy(p_fake, y.float(), reduction="none")
    torch.testing.assert_close(fake_bce(z, y), ref)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_attacks_raise_loss_and_stay_in_ball(setup, norm):
    model, x, y = setup
    eps = 8 / 255 if norm == "linf" else 0.5
    base = _loss(model, x, y)
    for adv in (fgsm(model, x, y, eps=eps, norm=norm),
                pgd(model, x, y, eps=eps, norm=norm, steps=5, seed=1)):
        assert adv.min() >= 0 and adv.max() <= 1
        d = (adv - x).flatten(1)
        size = d.abs().max(1).values if norm == "linf" else d.norm(dim=1)
        assert torch.all(size <= eps + 1e-5)
        assert _loss(model, adv, y).mean() > base.mean()
    strong = pgd(model, x, y, eps=eps, norm=norm, steps=10, seed=1)
    weak = fgsm(model, x, y, eps=eps, norm=norm)
    assert _loss(model, strong, y).mean() >= _loss(model, weak, y).mean() - 1e-4


def test_pgd_is_seeded_and_keeps_modes(setup):
    model, x, y = setup
    a = pgd(model, x, y, eps=4 / 255, steps=2, seed=3)
    b = pgd(model, x, y, eps=4 / 255, steps=2, seed=3)
    assert torch.equal(a, b)
    assert not any(m.training for m in model.modules())
    assert torch.equal(attack(model, x, y, kind="fgsm", eps=0.0), x.clamp(0, 1))
    with pytest.raises(ConfigError):
        attack(model, x, y, kind="nope", eps=0.1)
    with pytest.raises(ConfigError):
        fgsm(model, x, y, eps=0.1, norm="l3")
