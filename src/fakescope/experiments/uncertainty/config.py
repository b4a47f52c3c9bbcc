"""Options of the uncertainty study, and the training config of each run it trains."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fakescope.config import TrainConfig, load_config
from fakescope.errors import ConfigError
from fakescope.models.registry import OFFLINE_PRETRAINED
from fakescope.report.jsonable import jsonable
from fakescope.train.signal_data import MAP_DETECTORS, is_map_detector


@dataclass(frozen=True)
class MapCaches:
    """The study's shared signal and map caches under ``root``: signals in
    ``root/signals_<landmarks>_<flow>`` (the recipe's ``data.landmarks`` and ``data.flow``),
    maps in ``root/maps_<kind>_w<window>_s<stride>``. Every run of a
    map detector (binary, ensemble members, BNN, multi-class, leave-one-out) reads them, so
    the clips are decoded once."""

    root: Path

    def of(self, detector: str, tc: TrainConfig) -> tuple[str, str]:
        """``(signals_dir, map_cache)`` of ``detector`` with training config ``tc``."""
        kind, d = MAP_DETECTORS[detector], tc.data
        return (str(self.root / f"signals_{d.landmarks}_{d.flow}"),
                str(self.root / f"maps_{kind}_w{d.map_window}_s{d.map_stride}"))


DEFAULT_DETECTORS = ("resnet18", "xception", "efficientnet_b0", "mobilenetv3")
DEFAULT_METHODS = ("mc", "mc_head", "bnn", "ensemble", "tta")
EXPERIMENTS = ("binary", "multiclass", "source", "logo", "robustness", "maps")
#: Options that change neither a training nor a number (left out of the progress key).
FREE_OPTIONS = ("detectors", "progress", "device")


@dataclass
class UncertaintyStudyConfig:
    """Options of :func:`~fakescope.experiments.uncertainty.run_uncertainty_study` (defaults =
    the documented CPU size)."""

    #: empty: :data:`DEFAULT_DETECTORS`, or on a video manifest those and the two biological
    #: detectors (``experiments.uncertainty.video.VIDEO_DETECTORS``)
    detectors: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=lambda: list(DEFAULT_METHODS))
    experiments: list[str] = field(default_factory=lambda: list(EXPERIMENTS))
    epochs: int = 2
    image_size: int = 64
    samples: int = 16
    dropout: float = 0.3
    ensemble_size: int = 3
    bnn_epochs: int = 1
    prior_sigma: float = 1.0
    batch_size: int = 32
    lr: float = 1e-3
    max_per_class: int = 120  # reals and fakes per split (fakes spread over generators; 0 = all)
    robustness_images: int = 48
    map_images: int = 24
    logo_max: int = 2  # leave-one-out over this many most frequent generators (0 = all)
    map_epochs: int = 8  # training epochs of a biological (map) detector on a video manifest
    frames_per_clip: int = 8  # face frames per clip a blind detector sees on a video manifest
    seed: int = 0
    device: str = "auto"
    progress: bool = False

    def validate(self) -> None:
        from fakescope.models import list_detectors
        from fakescope.models.predict import METHODS

        bad = [m for m in self.methods if m not in METHODS or m == "none"]
        if bad:
            raise ConfigError(f"unknown uncertainty method(s) {bad}",
                              hint="use mc, mc_head, bnn, ensemble, tta")
        bad = [e for e in self.experiments if e not in EXPERIMENTS]
        if bad:
            raise ConfigError(f"unknown experiment(s) {bad}", hint=f"use {', '.join(EXPERIMENTS)}")
        if not self.detectors:
            raise ConfigError("no detectors given")
        known = set(list_detectors())
        bad = [d for d in self.detectors if d not in known and not d.startswith("timm:")]
        if bad:
            raise ConfigError(f"unknown detector(s) {bad}",
                              hint=f"choose from {', '.join(sorted(known))}")
        if self.samples < 2:
            raise ConfigError("samples must be >= 2 for a stochastic method")
        if self.epochs < 1 or self.image_size < 16:
            raise ConfigError("epochs must be >= 1 and image_size >= 16")
        if self.map_epochs < 1 or self.frames_per_clip < 1:
            raise ConfigError("map_epochs and frames_per_clip must be >= 1")

    def needs(self, *experiments: str) -> bool:
        """Whether any of ``experiments`` is switched on."""
        return bool(set(experiments) & set(self.experiments))

    def methods_for(self, detector: str) -> list[str]:
        """The methods of ``cfg.methods`` that apply to ``detector``: test-time augmentation
        (flips, shifts and zooms of an image) is left out for a map detector, whose input is a
        time x (cells | spectrum) map that such transforms do not preserve."""
        return [m for m in self.methods if not (m == "tta" and is_map_detector(detector))]

    @property
    def feature_method(self) -> str:
        """The method whose samples give the source-attribution features."""
        return "mc_head" if "mc_head" in self.methods else self.methods[0]

    def feature_method_for(self, detector: str) -> str | None:
        """:attr:`feature_method` when it applies to ``detector``, else its first method."""
        usable = self.methods_for(detector)
        return self.feature_method if self.feature_method in usable else next(iter(usable), None)

    def settings(self) -> dict[str, Any]:
        """The options that decide the study's numbers (all but :data:`FREE_OPTIONS`), JSON-able."""
        key = asdict(self)
        for k in FREE_OPTIONS:
            key.pop(k)
        return jsonable(key)


def train_config(cfg: UncertaintyStudyConfig, detector: str, out: Path, *,
                 target: str = "binary", seed: int | None = None, epochs: int | None = None,
                 loss: str = "ce", caches: MapCaches | None = None) -> TrainConfig:
    """The training config of one run of the study: ``detector`` trained for ``epochs``
    (default ``cfg.epochs``) with ``seed`` (default ``cfg.seed``) on the ``target`` task;
    packaged ImageNet weights where the detector has them (no hub). A map detector
    (``ppg_map``, ``motion_map``) starts from its packaged recipe instead, trains for
    ``cfg.map_epochs`` unless ``epochs`` is given, and reads the study's shared ``caches``."""
    if is_map_detector(detector):
        tc = load_config(detector, settings={
            "data.target": target, "model.dropout": cfg.dropout, "loss.name": loss,
            "train.epochs": epochs or cfg.map_epochs, "train.batch_size": cfg.batch_size,
            "train.seed": cfg.seed if seed is None else seed, "train.device": cfg.device,
            "train.progress": cfg.progress, "out_dir": str(out)})
        if caches is not None:
            tc.data.signals_dir, tc.data.map_cache = caches.of(detector, tc)
        return tc
    return load_config(None, settings={
        "data.image_size": cfg.image_size, "data.target": target, "data.cache_images": True,
        "model.name": detector, "model.pretrained": detector in OFFLINE_PRETRAINED,
        "model.dropout": cfg.dropout, "optim.lr": cfg.lr, "loss.name": loss,
        "train.epochs": epochs or cfg.epochs, "train.batch_size": cfg.batch_size,
        "train.eval_batch_size": max(cfg.batch_size, 64),
        "train.seed": cfg.seed if seed is None else seed, "train.device": cfg.device,
        "train.progress": cfg.progress, "out_dir": str(out)})
