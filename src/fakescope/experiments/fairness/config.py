"""Options of the fairness study, its methods, and the training config of each method."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fakescope.config import TrainConfig, load_config
from fakescope.errors import ConfigError
from fakescope.models.registry import OFFLINE_PRETRAINED

GROUP_COLS = ("skin_tone", "age_group")
GROUP_COLUMN = "fair_group"  # intersection column used by the losses and the demographic head


@dataclass(frozen=True)
class Switches:
    """One flag per mitigation; ``Switches()`` is plain ERM."""

    synthetic: bool = False
    sam: bool = False
    multitask: bool = False
    reweight: bool = False
    dro: bool = False

    def __post_init__(self):
        if self.reweight and self.dro:
            raise ConfigError("reweight and dro are two losses; switch on one of them")
        if self.multitask and (self.reweight or self.dro):
            raise ConfigError("multitask uses its own loss; combine it with synthetic/sam only")


METHODS: dict[str, Switches] = {
    "erm": Switches(),
    "synthetic": Switches(synthetic=True),
    "sam": Switches(sam=True),
    "multitask": Switches(multitask=True),
    "reweight": Switches(reweight=True),
    "dro": Switches(dro=True),
    "combined": Switches(synthetic=True, sam=True, multitask=True),
}


@dataclass
class StudyConfig:
    """Options of :func:`~fakescope.experiments.fairness.run_fairness_study`.

    Data: ``identities`` (biased train/val pool; ``val_fraction`` of them validate),
    ``test_identities`` per test domain (default ``max(6, identities // 2)``),
    ``images_per_identity``, ``generators``, ``size``, ``bias`` (group proportions of the pool).
    Training (one run per method): ``detector``, ``epochs``, ``batch_size``, ``lr``, ``sam_rho``,
    ``multitask_weight``, ``grad_reverse``, ``dro_alpha``. Audit: ``n_boot``, ``min_group_size``.
    ``seed`` seeds the data, every training and the bootstrap.
    """

    identities: int = 48  # identities of the biased training pool (val takes a share)
    test_identities: int | None = None  # per test domain; default identities // 2
    images_per_identity: int = 4
    generators: list[str] = field(default_factory=lambda: ["face_swap", "sbi", "neural_texture"])
    epochs: int = 3
    detector: str = "resnet18"
    size: int = 64
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    n_boot: int = 500
    min_group_size: int = 10
    device: str = "auto"
    methods: list[str] | None = None  # None = all of METHODS
    bias: dict[str, dict[str, float]] = field(default_factory=lambda: {
        "skin_tone": {"light": 0.45, "medium": 0.45, "dark": 0.10},
        "age_group": {"young": 0.45, "middle": 0.45, "senior": 0.10}})
    val_fraction: float = 0.2
    sam_rho: float = 0.05
    multitask_weight: float = 0.5
    grad_reverse: float = 0.0
    dro_alpha: float = 0.5
    progress: bool = True

    def method_names(self) -> list[str]:
        names = list(METHODS) if self.methods is None else list(self.methods)
        bad = [m for m in names if m not in METHODS]
        if bad:
            raise ConfigError(f"unknown method(s) {bad}", hint=f"use {', '.join(METHODS)}")
        return names

    @property
    def n_test_identities(self) -> int:
        return self.test_identities or max(6, self.identities // 2)


def train_config(cfg: StudyConfig, sw: Switches, n_groups: int) -> TrainConfig:
    """The training config of one method: each switch flips exactly one setting.

    ``n_groups``: the skin_tone x age_group groups of the training rows (outputs of the
    demographic head when ``sw.multitask``).
    """
    settings = {
        "data.image_size": cfg.size, "data.group_column": GROUP_COLUMN, "data.cache_images": True,
        "model.name": cfg.detector,
        "model.pretrained": cfg.detector in OFFLINE_PRETRAINED,  # packaged weights, no hub
        "model.dropout": 0.0,
        "optim.lr": cfg.lr, "optim.sam": sw.sam, "optim.sam_rho": cfg.sam_rho,
        "train.epochs": cfg.epochs, "train.batch_size": cfg.batch_size, "train.seed": cfg.seed,
        "train.device": cfg.device, "train.progress": cfg.progress,
    }
    if sw.multitask:
        settings |= {"model.heads": {"group": int(n_groups)}, "loss.name": "multitask",
                     "loss.options": {"weight": cfg.multitask_weight, "head": "group",
                                      "grad_reverse": cfg.grad_reverse}}
    elif sw.reweight:
        settings |= {"loss.name": "group_reweight", "loss.options": {"by_label": True}}
    elif sw.dro:
        settings |= {"loss.name": "dro", "loss.options": {"alpha": cfg.dro_alpha}}
    return load_config(None, settings=settings)


def tiny_config(**overrides) -> StudyConfig:
    """A configuration that runs in seconds (tests)."""
    base = StudyConfig(identities=12, test_identities=9, images_per_identity=2, epochs=1, size=32,
                       batch_size=16, n_boot=20, min_group_size=2, detector="resnet18",
                       device="cpu", progress=False, generators=["sbi"])
    return replace(base, **overrides)
