"""From a config to what a training needs: its datasets and its detector (the run step,
:func:`fakescope.train.run.fit_or_reuse`, trains them).

Image detectors read the manifest's images (:class:`~fakescope.data.dataset.ManifestDataset`);
map detectors (``ppg_map``, ``motion_map``) read a video manifest's clips as one signal map per
window (:mod:`fakescope.train.signal_data`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fakescope.config import TrainConfig
from fakescope.data.dataset import ManifestDataset, class_names_for, group_codes
from fakescope.data.manifest import read_manifest, select_split
from fakescope.data.signal_maps import SignalMapDataset
from fakescope.errors import ConfigError
from fakescope.models import create_detector
from fakescope.train.engine import seed_everything
from fakescope.train.signal_data import is_map_detector, split_datasets


@dataclass
class Datasets:
    """Train / val / test datasets with shared class and group codes: ManifestDatasets of
    images, or SignalMapDatasets of map windows for a map detector (``test`` is then None: the
    test clips are mapped when :func:`fakescope.train.run.score` scores them)."""

    train: ManifestDataset | SignalMapDataset
    val: ManifestDataset | SignalMapDataset
    test: ManifestDataset | None
    class_names: list[str]
    group_names: list[str]


def build_datasets(cfg: TrainConfig, manifest: pd.DataFrame | None = None, *,
                   out: str | Path | None = None,
                   say: Callable[[str], None] | None = None) -> Datasets:
    """Split the manifest into train / val / (test) datasets that share class and group codes.

    For a map detector the train and val clips are turned into signal maps first (resumably,
    under the run folder ``out``, default ``cfg.out_dir``; see
    :func:`fakescope.train.signal_data.split_datasets`); ``say`` is told how many clips gave
    maps and which failed. Its validation metric (the checkpoint choice) is then computed per
    window, not per clip: windows of one clip count as separate samples."""
    d = cfg.data
    if manifest is None:
        if not d.manifest:
            raise ConfigError("data.manifest is not set", hint="--set data.manifest=PATH")
        manifest = read_manifest(d.manifest)
    class_names = class_names_for(select_split(manifest, d.train_split), d.target)
    group_names: list[str] = []
    if d.group_column:
        _, group_names = group_codes(manifest[d.group_column])
    if is_map_detector(cfg.model.name):
        train, val = split_datasets(cfg, manifest, out or cfg.out_dir, class_names=class_names,
                                    group_names=group_names, say=say)
        return Datasets(train, val, None, class_names, group_names)

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
    """The configured detector; its initial weights depend only on ``train.seed``. A map
    detector's input size is the map height, ``data.map_window`` (maps are not resized)."""
    m = cfg.model
    seed_everything(cfg.train.seed)
    size = cfg.data.map_window if is_map_detector(m.name) else cfg.data.image_size
    return create_detector(m.name, num_classes=len(class_names), class_names=class_names,
                           heads=m.heads or None, dropout=m.dropout,
                           backbone_dropout=m.backbone_dropout, pretrained=m.pretrained,
                           checkpoint_path=m.checkpoint_path, image_size=size)

