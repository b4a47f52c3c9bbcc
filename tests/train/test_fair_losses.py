"""Fairness losses: hand-computed values, CVaR vs its variational form, gradient reversal."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fakescope.errors import ConfigError
from fakescope.train.fair_losses import cvar, grad_reverse
from fakescope.train.losses import create_loss, list_losses


def _batch(n=12, groups=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, 2, generator=g, requires_grad=True)
    target = torch.randint(0, 2, (n,), generator=g)
    group = torch.arange(n) % groups
    return {"detect": logits}, {"target": target, "label": target.clone(), "group": group}


def test_registered():
    assert {"group_reweight", "dro", "multitask"} <= set(list_losses())


def test_group_reweight_equals_mean_of_group_means():
    out, batch = _batch()
    batch["group"] = torch.tensor([0] * 8 + [1] * 3 + [-1])
    per = F.cross_entropy(out["detect"], batch["target"], reduction="none")
    expected = (per[:8].mean() + per[8:11].mean() + per[11:].mean()) / 3
    assert create_loss("group_reweight")(out, batch).item() == pytest.approx(expected.item())
    # by_label: cells are (group, label)
    loss = create_loss("group_reweight", by_label=True)(out, batch).item()
    cells = {}
    for i in range(12):
        cells.setdefault((int(batch["group"][i]), int(batch["label"][i])), []).append(per[i].item())
    assert loss == pytest.approx(np.mean([np.mean(v) for v in cells.values()]))
    # fixed weights
    w = [2.0, 0.5]
    loss = create_loss("group_reweight", weights=w)(out, batch).item()
    ww = np.array([2.0] * 8 + [0.5] * 3 + [1.0])
    assert loss == pytest.approx(float((ww * per.detach().numpy()).sum() / ww.sum()), rel=1e-6)


@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.3, 0.25, 0.9])
def test_cvar_matches_variational_form(alpha):
    v = torch.tensor([0.3, 2.0, 1.1, 0.7, 0.05, 1.6, 0.9, 0.4])
    # min over eta of eta + 1/(aK) sum (v - eta)_+ is attained at one of the values
    obj = [e + np.clip(v.numpy() - e, 0, None).sum() / (alpha * len(v)) for e in v.numpy()]
    assert cvar(v, alpha).item() == pytest.approx(min(obj), rel=1e-6)
    assert cvar(v, 1.0).item() == pytest.approx(v.mean().item())


def test_dro_is_cvar_over_group_means_and_upweights_worst_group():
    out, batch = _batch(n=12, groups=4)
    per = F.cross_entropy(out["detect"], batch["target"], reduction="none")
    means = torch.stack([per[batch["group"] == k].mean() for k in range(4)])
    loss = create_loss("dro", alpha=0.5)(out, batch)
    top2 = torch.sort(means, descending=True).values[:2].mean()
    assert loss.item() == pytest.approx(top2.item(), rel=1e-6)
    loss.backward()
    worst = int(torch.argmax(means))
    best = int(torch.argmin(means))
    grad = out["detect"].grad.abs().sum(1)
    assert grad[batch["group"] == best].sum() == 0  # best group not in the worst half
    assert grad[batch["group"] == worst].sum() > 0
    with pytest.raises(ConfigError):
        create_loss("dro", alpha=0.0)


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 3)
        self.heads = nn.ModuleDict({"detect": nn.Linear(3, 2), "group": nn.Linear(3, 3)})

    def forward(self, x):
        f = self.body(x)
        return {k: h(f) for k, h in self.heads.items()}


def test_multitask_loss_value_and_gradient_reversal():
    torch.manual_seed(0)
    x = torch.randn(6, 4)
    batch = {"target": torch.tensor([0, 1, 0, 1, 1, 0]), "group": torch.tensor([0, 1, 2, -1, 1, 0])}
    plain = _Tiny()
    rev = _Tiny()
    rev.load_state_dict(plain.state_dict())
    loss_plain = create_loss("multitask", weight=0.7)
    loss_rev = create_loss("multitask", weight=0.7, grad_reverse=1.0)
    loss_plain.bind(model=plain, n_train=6, n_groups=3)
    loss_rev.bind(model=rev, n_train=6, n_groups=3)
    out = plain(x)
    expected = (F.cross_entropy(out["detect"], batch["target"])
                + 0.7 * F.cross_entropy(out["group"][batch["group"] >= 0],
                                        batch["group"][batch["group"] >= 0]))
    lp = loss_plain(out, batch)
    assert lp.item() == pytest.approx(expected.item(), rel=1e-6)
    lr = loss_rev(rev(x), batch)
    assert lr.item() == pytest.approx(lp.item(), rel=1e-6)  # forward unchanged
    # gradients of the demographic term alone: head same sign, body reversed
    demo_only = {"target": batch["target"], "group": batch["group"]}
    for model in (plain, rev):
        model.zero_grad()
        o = model(x)
        F.cross_entropy(o["group"][demo_only["group"] >= 0],
                        demo_only["group"][demo_only["group"] >= 0]).backward()
    assert torch.allclose(rev.heads["group"].weight.grad, plain.heads["group"].weight.grad)
    assert torch.allclose(rev.body.weight.grad, -plain.body.weight.grad)
    assert rev.heads["detect"].weight.grad is None


def test_grad_reverse_function_and_errors():
    x = torch.ones(3, requires_grad=True)
    (grad_reverse(x, 0.5) * 2).sum().backward()
    assert torch.allclose(x.grad, torch.full((3,), -1.0))
    with pytest.raises(ConfigError, match="no head 'group'"):
        create_loss("multitask").bind(model=nn.Module(), n_train=1, n_groups=2)
