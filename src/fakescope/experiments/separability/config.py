"""Options of the separability study."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEPARABILITY_SCORE = "ami_binary"  # the score correlated with fine-tuned AUC


@dataclass
class StudyConfig:
    """Options of :func:`~fakescope.experiments.separability.run_separability_study`.

    ``per_class``: training images per class for fine-tuning (fakes spread over generators);
    ``sep_per_source``: images per source in the separability set; ``image_size`` overrides
    the input size of torch extractors; ``backbone_opts[name]`` go to
    ``create_feature_extractor``.
    """

    backbones: list[str] | None = None
    per_class: int = 200
    sep_per_source: int = 200
    finetune_epochs: int = 3
    finetune_lr: float = 1e-4
    batch_size: int = 32
    cross_generator: bool = True
    pca: int | None = 32
    n_boot: int = 100
    simclr_epochs: int = 5
    simclr_arch: str = "resnet18"
    image_size: int | None = None
    seed: int = 0
    device: str | None = None
    backbone_opts: dict[str, dict[str, Any]] = field(default_factory=dict)
