"""SignalMapDataset: ManifestDataset's items and attributes over cached map windows; clip
files read once; unreadable files skipped or raised; DataLoader batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from fakescope.data import signal_maps
from fakescope.data.dataset import collate_skip
from fakescope.data.signal_maps import SignalMapDataset
from fakescope.errors import DataError
from fakescope.scores import scores_table


def write_clip(path, n: int, seed: int) -> np.ndarray:
    maps = np.random.default_rng(seed).normal(size=(n, 3, 16, 8)).astype(np.float16)
    np.savez(path, maps=maps, starts=np.arange(n) * 8)
    return maps


@pytest.fixture
def index(tmp_path):
    """Three clips (2, 3 and 1 windows) as cache_index lays them out."""
    rows, maps = [], {}
    clips = [("a", 0, "real", "f", 2), ("b", 1, "sbi", "m", 3), ("c", 1, "face_swap", "f", 1)]
    for k, (sid, label, source, sex, n) in enumerate(clips):
        path = tmp_path / f"{sid}.npz"
        maps[sid] = write_clip(path, n, k)
        rows += [{"sample_id": sid, "label": label, "source": source, "sex": sex,
                  "window": w, "start": 8 * w, "map_path": str(path)} for w in range(n)]
    df = pd.DataFrame(rows)
    df.attrs["origin"] = "maps-index"
    return df, maps


def test_items_and_attributes_match_manifest_dataset(index):
    df, maps = index
    ds = SignalMapDataset(df, group_column="sex")
    assert len(ds) == 6 and ds.image_size == 16
    assert ds.class_names == ["real", "fake"] and ds.target == "binary"
    assert list(ds.labels) == [0, 0, 1, 1, 1, 1] and ds.labels.dtype == np.int64
    assert np.array_equal(ds.targets, ds.labels)
    assert ds.group_names == ["f", "m"] and list(ds.groups) == [0, 0, 1, 1, 1, 0]
    assert list(ds.clip_ids) == ["a", "a", "b", "b", "b", "c"]
    assert ds.df.attrs["origin"] == "maps-index" and ds.bad_items == {}
    item = ds[3]
    assert set(item) == {"image", "label", "target", "group", "index"}
    assert item["image"].dtype == torch.float32 and item["image"].shape == (3, 16, 8)
    assert torch.equal(item["image"], torch.from_numpy(maps["b"][1].astype(np.float32)))
    assert (int(item["label"]), int(item["target"]), int(item["group"]), int(item["index"])) \
        == (1, 1, 1, 3)
    ds.set_epoch(2)
    assert ds.epoch == 2 and str(ds.path(5)).endswith("c.npz")
    assert int(SignalMapDataset(df)[0]["group"]) == -1


def test_multiclass_targets(index):
    df, _ = index
    ds = SignalMapDataset(df, target="multiclass")
    assert ds.class_names == ["real", "face_swap", "sbi"]
    assert list(ds.targets) == [0, 0, 2, 2, 2, 1]
    with pytest.raises(DataError, match="not among the model's classes"):
        SignalMapDataset(df, target="multiclass", class_names=["real", "sbi"])


def test_each_clip_file_is_read_once_and_the_cache_is_bounded(index, monkeypatch):
    df, _ = index
    loads = []
    real_load = np.load
    monkeypatch.setattr(signal_maps.np, "load",
                        lambda p, **kw: loads.append(str(p)) or real_load(p, **kw))
    ds = SignalMapDataset(df)
    for i in range(len(ds)):
        ds[i]
    assert len(loads) == 3
    small = SignalMapDataset(df, cache_clips=1)
    loads.clear()
    for i in (0, 1, 2, 0):
        small[i]
    # a was read by the constructor (image_size); b evicts it, so a is read again
    assert [p[-5:] for p in loads] == ["b.npz", "a.npz"] and len(small._clips) == 1


def test_unreadable_rows_skip_or_raise_and_loader_batches(index, tmp_path):
    df, _ = index
    df.loc[2, "map_path"] = str(tmp_path / "gone.npz")
    df.loc[5, "window"] = 7  # not in c.npz (1 map)
    ds = SignalMapDataset(df)
    assert ds[2] is None and ds[5] is None and set(ds.bad_items) == {2, 5}
    assert "gone.npz" in ds.bad_items[2] and "rebuild" in ds.bad_items[5]
    batches = list(DataLoader(ds, batch_size=4, collate_fn=collate_skip))
    assert [len(b["index"]) for b in batches] == [3, 1]
    assert batches[0]["image"].shape == (3, 3, 16, 8)
    assert torch.equal(torch.cat([b["index"] for b in batches]), torch.tensor([0, 1, 3, 4]))
    table = scores_table(ds, np.array([0, 3]), np.zeros((2, 2), np.float32), ds.class_names)
    assert list(table["sample_id"]) == ["a", "b"] and table.attrs["skipped"].keys() == {2, 5}
    with pytest.raises(DataError, match="gone.npz"):
        SignalMapDataset(df, on_error="raise")[2]
    with pytest.raises(DataError, match="map_path"):
        SignalMapDataset(df.drop(columns="map_path"))
