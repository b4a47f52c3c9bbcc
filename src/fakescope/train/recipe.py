"""From a config to what a training needs: its datasets and its detector (the run step,
:func:`fakescope.train.run.fit_or_reuse`, trains them)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from fakescope.config import TrainConfig
from fakescope.data.dataset import ManifestDataset, class_names_for, group_codes
from fakescope.data.manifest import read_manifest, select_split
from fakescope.errors import ConfigError
from fakescope.models import create_detector
from fakescope.train.engine import seed_everything


@dataclass
class Datasets:
    train: ManifestDataset
    val: ManifestDataset
    test: ManifestDataset | None
    class_names: list[str]
    group_names: list[str]


def build_datasets(cfg: TrainConfig, manifest: pd.DataFrame | None = None) -> Datasets:
    """Split the manifest into train / val / (test) datasets that share class and group codes."""
    d = cfg.data
    if manifest is None:
        if not d.manifest:
            raise ConfigError("data.manifest is not set", hint="--set data.manifest=PATH")
        manifest = read_manifest(d.manifest)
    class_names = class_names_for(select_split(manifest, d.train_split), d.target)
    group_names: list[str] = []
    if d.group_column:
        _, group_names = group_codes(manifest[d.group_column])

    def make(split: str, train: bool) -> ManifestDataset:
        return ManifestDataset(select_split(manifest, split), image_size=d.image_size,
                               target=d.target, class_names=class_names,
                               group_column=d.group_column, group_names=group_names or None,
                               augment=train and d.augment, seed=cfg.train.seed,
                               cache_images=d.cache_images, on_error="skip")

    test = make(d.test_split, False) if (manifest["split"] == d.test_split).any() else None
    return Datasets(make(d.train_split, True), make(d.val_split, False), test, class_names,
                    group_names)


def build_model(cfg: TrainConfig, class_names: list[str]):
    """The configured detector; its initial weights depend only on ``train.seed``."""
    m = cfg.model
    seed_everything(cfg.train.seed)
    return create_detector(m.name, num_classes=len(class_names), class_names=class_names,
                           heads=m.heads or None, dropout=m.dropout, pretrained=m.pretrained,
                           checkpoint_path=m.checkpoint_path, image_size=cfg.data.image_size)

