"""DF40 / generator-per-folder layout."""

from __future__ import annotations

import pytest

from fakescope.data.adapters import index_dataset
from fakescope.errors import DataError


@pytest.fixture
def df40_root(tmp_path, make_image, make_video):
    root = tmp_path / "DF40"
    for split in ("train", "test"):
        for clip in ("000_003", "001_004"):
            for f in ("000.png", "010.png"):
                make_image(root / split / "simswap" / "ff" / "frames" / clip / f)
        make_image(root / split / "simswap" / "cdf" / "frames" / "id0_id1_0000" / "000.png")
        make_image(root / split / "StyleGAN3" / "0001.png")
        make_image(root / split / "StyleGAN3" / "0002.png")
        make_video(root / split / "heygen" / "clipA.mp4")
        make_image(root / split / "real" / "frames" / "000" / "005.png")
    return root


def test_sources_frames_and_clips(df40_root):
    df = index_dataset("df40", df40_root)
    assert len(df) == 2 * (5 + 2 + 1 + 1)
    assert set(df["split"]) == {"train", "test"}
    tr = df[df["split"] == "train"]
    assert tr.groupby("source").size().to_dict() == {"StyleGAN3": 2, "heygen": 1, "real": 1,
                                                    "simswap": 5}
    assert tr.loc[tr["source"] == "real", "label"].tolist() == [0]
    clip = tr[tr["video_id"] == "df40/train/simswap/ff/000_003"]
    assert sorted(clip["frame"]) == [0, 10] and set(clip["domain"]) == {"ff"}
    # independent images are their own videos; the same clip in two splits stays two videos
    sg = tr[tr["source"] == "StyleGAN3"]
    assert (sg["video_id"] == sg["sample_id"]).all()
    assert df.groupby("video_id")["split"].nunique().max() == 1
    assert tr.loc[tr["source"] == "heygen", "media"].tolist() == ["video"]
    # a generator folder does not say which real clip a fake came from: no pair_id column
    assert "pair_id" not in df.columns


def test_flat_root_with_forced_split(df40_root):
    df = index_dataset("df40", df40_root / "test", split="test", name="x")
    assert len(df) == 9 and set(df["split"]) == {"test"}
    assert df["video_id"].str.startswith("x/").all()


def test_empty_root_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="<method>"):
        index_dataset("df40", tmp_path / "empty")
