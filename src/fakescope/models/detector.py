"""The Detector module: backbone + dropout + heads, normalisation inside.

``forward(x)`` takes images ``x: (N, 3, H, W)`` float in [0, 1] pixel units — normalisation is
the model's first step, so attacks and perturbations work in pixel space — and returns a dict
of logits ``{"detect": (N, C), <head>: (N, K), ...}``. Class 0 of ``detect`` is *real*; with
``C == 2`` class 1 is *fake*, with ``C > 2`` classes 1.. are the sources (generators).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

DETECT = "detect"


def p_fake(probs: torch.Tensor) -> torch.Tensor:
    """P(fake) from class probabilities ``probs: (..., C)`` (class 0 = real): ``1 - probs[..., 0]``."""
    return 1.0 - probs[..., 0]


class Detector(nn.Module):
    """A deepfake detector.

    Args:
        backbone: maps normalised images ``(N, 3, H, W)`` to pooled features ``(N, D)``.
        feature_dim: ``D``.
        num_classes: classes of the detection head (2 = real/fake; 1 + #sources = multi-class).
        heads: extra heads ``{name: num_outputs}`` (e.g. ``{"group": 8}`` for demographics).
        dropout: probability of the dropout applied to the features before *each* head; it is
            the hook that head-only MC dropout uses.
        backbone_dropout: probability of the dropout after each backbone stage
            (:mod:`fakescope.models.stage_dropout`); 0 = none. Full-network MC dropout
            (``method="mc"``) samples it together with the head dropout.
        mean, std: per-channel normalisation applied inside ``features``.
        arch: the registry name and options that rebuild this model (stored in checkpoints).
    """

    def __init__(
        self,
        backbone: nn.Module,
        feature_dim: int,
        *,
        num_classes: int = 2,
        heads: dict[str, int] | None = None,
        dropout: float = 0.0,
        backbone_dropout: float = 0.0,
        mean: tuple[float, float, float] = (0.485, 0.456, 0.406),
        std: tuple[float, float, float] = (0.229, 0.224, 0.225),
        class_names: list[str] | None = None,
        arch: dict[str, Any] | None = None,
    ):
        super().__init__()
        if num_classes < 2:
            raise ValueError("num_classes must be >= 2 (class 0 = real)")
        self.backbone = backbone
        self.feature_dim = int(feature_dim)
        self.num_classes = int(num_classes)
        self.head_dropout = nn.Dropout(p=float(dropout))
        self.backbone_dropout = float(backbone_dropout)
        if self.backbone_dropout > 0:
            from fakescope.models.stage_dropout import add_stage_dropout

            self.stage_dropout = add_stage_dropout(backbone, self.backbone_dropout)
            if not len(self.stage_dropout):
                raise ValueError("backbone_dropout > 0 but the backbone has no stage to put it "
                                 "after (no feature_info, no convolutional child)")
        self.heads = nn.ModuleDict({DETECT: nn.Linear(self.feature_dim, self.num_classes)})
        for name, k in (heads or {}).items():
            if name == DETECT:
                raise ValueError(f"head name {DETECT!r} is reserved for the detection head")
            self.heads[name] = nn.Linear(self.feature_dim, int(k))
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        if class_names is None:
            class_names = ["real", "fake"] if num_classes == 2 else ["real"] + [
                f"class_{i}" for i in range(1, num_classes)]
        if len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for {num_classes} classes")
        self.class_names = list(class_names)
        self.arch = dict(arch or {})

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` for ``x: (N, 3, H, W)`` in [0, 1]."""
        return (x - self.mean) / self.std

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled backbone features ``(N, D)`` of images ``x: (N, 3, H, W)`` in [0, 1]."""
        return self.backbone(self.normalize(x))

    def forward_heads(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits of every head from features ``(N, D)``; dropout is applied before each head."""
        return {name: head(self.head_dropout(feats)) for name, head in self.heads.items()}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.forward_heads(self.features(x))

    @property
    def extra_heads(self) -> dict[str, int]:
        return {n: h.out_features for n, h in self.heads.items() if n != DETECT}

    def config(self) -> dict[str, Any]:
        """Everything ``create_detector`` needs to rebuild this model (stored in checkpoints)."""
        return {
            **self.arch,
            "num_classes": self.num_classes,
            "heads": self.extra_heads,
            "dropout": self.head_dropout.p,
            **({"backbone_dropout": self.backbone_dropout} if self.backbone_dropout else {}),
            "class_names": self.class_names,
            "mean": [float(v) for v in self.mean.flatten()],
            "std": [float(v) for v in self.std.flatten()],
        }
