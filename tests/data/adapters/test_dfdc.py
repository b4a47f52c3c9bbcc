"""DFDC layout: part folders with metadata.json, and the test folder with labels.csv."""

from __future__ import annotations

import json

import pytest

from fakescope.data.adapters import index_dataset
from fakescope.errors import DataError


@pytest.fixture
def dfdc_root(tmp_path, make_video):
    root = tmp_path / "dfdc"
    meta = {"aaa.mp4": {"label": "REAL", "split": "train", "original": None},
            "bbb.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"},
            "ccc.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"}}
    for part, names in (("dfdc_train_part_0", ["aaa", "bbb"]), ("dfdc_train_part_1", ["ccc"])):
        for n in names:
            make_video(root / part / f"{n}.mp4")
        (root / part / "metadata.json").write_text(
            json.dumps({f"{n}.mp4": meta[f"{n}.mp4"] for n in names}))
    make_video(root / "test/videos/ttt.mp4")
    make_video(root / "test/videos/uuu.mp4")
    (root / "test/labels.csv").write_text("filename,label\nttt.mp4,0\nuuu.mp4,1\n")
    return root


def test_labels_originals_splits(dfdc_root):
    df = index_dataset("dfdc", dfdc_root).set_index("video_id")
    assert len(df) == 5
    assert df["label"].to_dict() == {"dfdc/aaa": 0, "dfdc/bbb": 1, "dfdc/ccc": 1,
                                     "dfdc/ttt": 0, "dfdc/uuu": 1}
    assert df.loc["dfdc/ccc", "original_video_id"] == "dfdc/aaa"
    assert df.loc["dfdc/ccc", "identity"] == df.loc["dfdc/aaa", "identity"] == "aaa"
    assert df.loc["dfdc/ccc", "part"] == "dfdc_train_part_1"
    assert df["split"].to_dict()["dfdc/uuu"] == "test"
    assert (df.loc[["dfdc/aaa", "dfdc/bbb"], "split"] == "train").all()
    assert df.loc["dfdc/bbb", "source"] == "DFDC"
    # pair_id: reals their own id, fakes their original (unknown for labels.csv fakes)
    assert df["pair_id"].to_dict() == {"dfdc/aaa": "dfdc/aaa", "dfdc/bbb": "dfdc/aaa",
                                       "dfdc/ccc": "dfdc/aaa", "dfdc/ttt": "dfdc/ttt",
                                       "dfdc/uuu": ""}


def test_single_part_and_errors(dfdc_root, tmp_path):
    one = index_dataset("dfdc", dfdc_root / "dfdc_train_part_0", split="val")
    assert len(one) == 2 and set(one["split"]) == {"val"}
    with pytest.raises(DataError, match="metadata.json"):
        index_dataset("dfdc", tmp_path / "dfdc" / "test" / "videos")
    (dfdc_root / "dfdc_train_part_1" / "ccc.mp4").unlink()
    with pytest.raises(DataError, match="ccc.mp4"):
        index_dataset("dfdc", dfdc_root)
