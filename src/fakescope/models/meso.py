"""MesoNet-4 (Afchar et al., 2018): four small conv blocks, a classic compact detector.

The classifier part is left to the Detector's heads; this module ends with the flattened
feature vector after the last pooling and a 16-unit hidden layer, as in the original.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(cin: int, cout: int, k: int, pool: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(pool, ceil_mode=True),
    )


class Meso4(nn.Module):
    """Meso-4 feature extractor: ``(N, 3, H, W) -> (N, 16)``.

    The original flattens an 8x8 map at 256 px; here an adaptive pool to 8x8 keeps the head the
    same size at any input size.
    """

    feature_dim = 16

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            _block(3, 8, 3, 2), _block(8, 8, 5, 2), _block(8, 16, 5, 2), _block(16, 16, 5, 4))
        self.pool = nn.AdaptiveAvgPool2d(8)
        self.hidden = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(16 * 64, 16),
                                    nn.LeakyReLU(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(self.pool(self.body(x)))
