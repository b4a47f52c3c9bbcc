"""Dropout after each stage of a backbone: what full-network MC dropout (``method="mc"``) samples.

The detectors' backbones (timm ResNets, Xception, EfficientNets, MobileNets) have no dropout of
their own outside the classifier that fakescope replaces, so without this MC dropout over "the
whole network" samples only the head dropout, i.e. exactly what ``mc_head`` samples.
``Detector(backbone_dropout=p)`` (``model.backbone_dropout`` in a training config) puts an
element-wise ``nn.Dropout(p)`` on the output of every stage, as Bayesian-approximation CNNs do
(Gal & Ghahramani 2016 place dropout after every weight layer; after each stage is the coarser,
cheaper version). It is on while training (so the network learns with it) and, through
``method="mc"``, at prediction time; the head dropout stays a separate option.

Stages (:func:`backbone_stages`): the modules named by timm's ``feature_info`` (the output of
each resolution level: ResNet ``layer1..4``, EfficientNet/MobileNet ``blocks.k``, ...), else the
backbone's top-level children that hold a convolution. The dropout is applied by a forward hook,
so the backbone's parameter names (pretrained weights, checkpoints) do not change.
"""

from __future__ import annotations

import torch
from torch import nn


def _has_conv(m: nn.Module) -> bool:
    return any(isinstance(c, nn.Conv2d) for c in m.modules())


def backbone_stages(backbone: nn.Module) -> list[nn.Module]:
    """The stage modules of ``backbone`` whose outputs get dropout (module doc); may be empty."""
    info = getattr(backbone, "feature_info", None)
    stages: list[nn.Module] = []
    if info is not None:
        try:
            names = [f["module"] for f in info]
            stages = [backbone.get_submodule(n) for n in dict.fromkeys(names) if n]
        except (AttributeError, KeyError, TypeError):
            stages = []
    if not stages:
        stages = [c for c in backbone.children() if _has_conv(c)]
    # a stage inside another would get dropout twice
    ids = {id(s) for s in stages}
    return [s for s in stages
            if not any(id(m) in ids for m in s.modules() if m is not s)]


class StageDropout(nn.Dropout):
    """``nn.Dropout`` applied to a stage's output through :meth:`hook`."""

    def hook(self, module: nn.Module, inputs, output):
        return self(output) if isinstance(output, torch.Tensor) else output


def add_stage_dropout(backbone: nn.Module, p: float) -> nn.ModuleList:
    """Hook a :class:`StageDropout` ``(p)`` onto every stage of ``backbone``; returns them (the
    caller registers the list as a submodule, so ``model.train()/eval()`` switch them and MC
    dropout finds them). The hooks are bound methods: a deep copy of the model copies them with
    their dropout."""
    drops = nn.ModuleList()
    for stage in backbone_stages(backbone):
        d = StageDropout(p)
        stage.register_forward_hook(d.hook)
        drops.append(d)
    return drops
