"""Biological-signal detectors: a small CNN over PPG maps (FakeCatcher) and over motion maps.

``ppg_map`` and ``motion_map`` share one backbone, :class:`MapCNN`: three blocks of
``conv 3x3 (padding 1) -> BatchNorm -> ReLU -> max-pool 2``, 32, 64 and 64 channels, with
``Dropout2d(block_dropout)`` (default 0.1) between blocks, then a global average pool to a
64-d feature. FakeCatcher's classifier is three conv layers with dropout; the global pool makes
the network independent of the map size (window ``w`` x ``2C`` cells), so maps need no
resizing. The Detector's heads (and ``dropout`` before them) come from
:func:`~fakescope.models.registry.create_detector`.

Inputs are maps ``(N, 3, w, 2C)`` (:mod:`fakescope.signals.maps`: z-scored signals next to
spectra in [0, 1]), already normalised, so the Detector's mean / std are 0 / 1 (identity).
They are not images in [0, 1]: pixel-space perturbations and TTA (flips and shifts mix cells
with spectra) do not apply. ``default_size`` 64 is the default map height (window).
There are no published weights: ``pretrained=True`` is a ModelError unless ``checkpoint_path``
names local backbone weights. Option ``block_dropout`` is stored in checkpoints like any
backbone option, so MC dropout (``method="mc"``) samples the block dropout as well.
"""

from __future__ import annotations

import torch
from torch import nn

from fakescope.errors import ModelError
from fakescope.models.registry import register_detector
from fakescope.models.weights import load_backbone_weights

CHANNELS = (32, 64, 64)
MAP_SIZE = 64


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True))


class MapCNN(nn.Module):
    """``(N, 3, H, W) -> (N, 64)``: three conv blocks (32-64-64), Dropout2d between blocks,
    global average pool. Any ``H, W >= 1`` (ceil-mode pooling)."""

    feature_dim = CHANNELS[-1]

    def __init__(self, block_dropout: float = 0.1):
        super().__init__()
        if not 0.0 <= block_dropout < 1.0:
            raise ModelError(f"block_dropout={block_dropout}", hint="use a value in [0, 1)")
        c1, c2, c3 = CHANNELS
        self.block1 = _block(3, c1)
        self.drop1 = nn.Dropout2d(block_dropout)
        self.block2 = _block(c1, c2)
        self.drop2 = nn.Dropout2d(block_dropout)
        self.block3 = _block(c2, c3)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop1(self.block1(x))
        x = self.drop2(self.block2(x))
        return self.pool(self.block3(x)).flatten(1)


def _builder(name: str):
    def build(*, pretrained: bool = False, checkpoint_path=None, block_dropout: float = 0.1):
        if pretrained and checkpoint_path is None:
            raise ModelError(f"no pretrained weights for {name}",
                             hint="train it, or pass checkpoint_path= (local backbone weights)")
        model = MapCNN(float(block_dropout))
        if checkpoint_path is not None:
            load_backbone_weights(model, checkpoint_path)
        return model, MapCNN.feature_dim, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    return build


register_detector("ppg_map", default_size=MAP_SIZE,
                  description="FakeCatcher-style CNN on PPG maps (CHROM/POS/GREEN per mid-face "
                  "cell + spectra; fakescope.signals.maps)")(_builder("ppg_map"))
register_detector("motion_map", default_size=MAP_SIZE,
                  description="the PPG-map CNN on optical-flow motion maps (per-cell flow minus "
                  "head motion + spectra; fakescope.signals.maps)")(_builder("motion_map"))
