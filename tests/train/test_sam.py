import torch
from torch import nn

from fakescope.train.sam import SAM, frozen_bn_stats


def _quadratic_setup():
    w = nn.Parameter(torch.tensor([1.0, -2.0]))
    return w, lambda: (w ** 2 * torch.tensor([1.0, 3.0])).sum()


def test_sam_step_uses_gradient_at_perturbed_point():
    w, f = _quadratic_setup()
    opt = SAM([w], torch.optim.SGD, rho=0.1, lr=0.5)
    f().backward()
    g = w.grad.clone()
    e = 0.1 * g / g.norm()
    expected_grad = 2 * (w.detach() + e) * torch.tensor([1.0, 3.0])
    expected = w.detach() - 0.5 * expected_grad
    opt.first_step(zero_grad=True)
    f().backward()
    opt.second_step()
    torch.testing.assert_close(w.detach(), expected)


def test_adaptive_sam_scales_by_weight_magnitude():
    w, f = _quadratic_setup()
    opt = SAM([w], torch.optim.SGD, rho=0.1, adaptive=True, lr=0.1)
    f().backward()
    g, w0 = w.grad.clone(), w.detach().clone()
    opt.first_step(zero_grad=False)
    expected_e = 0.1 * w0 ** 2 * g / (w0.abs() * g).norm()
    torch.testing.assert_close(w.detach() - w0, expected_e)


def test_closure_step_and_state_dict():
    w, f = _quadratic_setup()
    opt = SAM([w], torch.optim.SGD, rho=0.05, lr=0.1, momentum=0.9)
    for _ in range(3):
        f().backward()
        opt.step(lambda: f().backward())
    assert f().item() < 13.0
    sd = opt.state_dict()
    opt2 = SAM([w], torch.optim.SGD, rho=0.05, lr=0.1, momentum=0.9)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.1


def test_frozen_bn_stats_keeps_running_stats():
    bn = nn.BatchNorm1d(3).train()
    before = bn.running_mean.clone()
    with frozen_bn_stats(bn):
        bn(torch.randn(16, 3) + 5)
    torch.testing.assert_close(bn.running_mean, before)
    bn(torch.randn(16, 3) + 5)
    assert not torch.allclose(bn.running_mean, before)


def test_engine_sam_clips_the_update_gradient_and_refuses_a_grad_scaler(tmp_path):
    import pytest

    from fakescope.config import load_config
    from fakescope.errors import ConfigError
    from fakescope.models import create_detector
    from fakescope.train.engine import Engine

    torch.manual_seed(0)
    model = create_detector("tiny", image_size=16)
    cfg = load_config(None, ["model.name=tiny", "optim.sam=true", "optim.name=sgd",
                             "optim.lr=1.0", "optim.momentum=0", "optim.weight_decay=0",
                             "optim.grad_clip=0.001", "train.amp=false", "train.device=cpu"])
    eng = Engine(model, cfg, tmp_path)
    opt = eng._optimizer()
    batch = {"image": torch.rand(4, 3, 16, 16), "target": torch.tensor([0, 1, 0, 1]),
             "label": torch.tensor([0, 1, 0, 1]), "group": torch.full((4,), -1)}
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    eng._train_step(model, batch, opt, scaler)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    # SGD with lr 1: the step is the clipped gradient, norm <= grad_clip
    assert 0 < (after - before).norm() <= 0.001 * (1 + 1e-4)
    with pytest.raises(ConfigError, match="fp16 mixed precision"):
        eng._train_step(model, batch, opt, torch.amp.GradScaler("cpu", enabled=True))
