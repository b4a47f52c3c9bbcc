"""Celeb-DF v1/v2 layout: folders + List_of_testing_videos.txt."""

from __future__ import annotations

import pytest

from fakescope.data.adapters import index_dataset
from fakescope.errors import DataError


@pytest.fixture
def cdf_root(tmp_path, make_video):
    root = tmp_path / "Celeb-DF-v2"
    for name in ("id0_0000", "id0_0001", "id1_0000", "id2_0000"):
        make_video(root / "Celeb-real" / f"{name}.mp4")
    for name in ("00000", "00001"):
        make_video(root / "YouTube-real" / f"{name}.mp4")
    for name in ("id0_id1_0000", "id1_id0_0000", "id2_id0_0000"):
        make_video(root / "Celeb-synthesis" / f"{name}.mp4")
    # Celeb-DF's own convention: 1 = real, 0 = synthesised
    (root / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00001.mp4\n1 Celeb-real/id2_0000.mp4\n0 Celeb-synthesis/id2_id0_0000.mp4\n")
    return root


def test_counts_labels_test_split_identity(cdf_root):
    df = index_dataset("celebdf", cdf_root, version="v2")
    assert len(df) == 9 and (df["label"] == 1).sum() == 3
    by = df.set_index("video_id")
    test = set(df.loc[df["split"] == "test", "video_id"])
    assert test == {"celebdf-v2/YouTube-real/00001", "celebdf-v2/Celeb-real/id2_0000",
                    "celebdf-v2/Celeb-synthesis/id2_id0_0000"}
    assert set(df.loc[df["split"] != "test", "split"]) == {"train"}
    assert by.loc["celebdf-v2/Celeb-synthesis/id1_id0_0000", "identity"] == "id1"
    assert by.loc["celebdf-v2/Celeb-synthesis/id1_id0_0000", "source_identity"] == "id0"
    assert by.loc["celebdf-v2/YouTube-real/00000", "identity"] == ""
    assert by.loc["celebdf-v2/Celeb-real/id0_0001", "label"] == 0
    assert by["pair_id"].to_dict() == {
        "celebdf-v2/Celeb-real/id0_0000": "celebdf-v2/Celeb-real/id0_0000",
        "celebdf-v2/Celeb-real/id0_0001": "celebdf-v2/Celeb-real/id0_0001",
        "celebdf-v2/Celeb-real/id1_0000": "celebdf-v2/Celeb-real/id1_0000",
        "celebdf-v2/Celeb-real/id2_0000": "celebdf-v2/Celeb-real/id2_0000",
        "celebdf-v2/YouTube-real/00000": "celebdf-v2/YouTube-real/00000",
        "celebdf-v2/YouTube-real/00001": "celebdf-v2/YouTube-real/00001",
        # fake id0_id1_0000: target id0's clip 0000 -> the real id0_0000
        "celebdf-v2/Celeb-synthesis/id0_id1_0000": "celebdf-v2/Celeb-real/id0_0000",
        "celebdf-v2/Celeb-synthesis/id1_id0_0000": "celebdf-v2/Celeb-real/id1_0000",
        "celebdf-v2/Celeb-synthesis/id2_id0_0000": "celebdf-v2/Celeb-real/id2_0000"}


def test_val_carved_by_identity_is_seeded(cdf_root):
    a = index_dataset("celebdf", cdf_root, val_fraction=0.5, seed=3)
    b = index_dataset("celebdf", cdf_root, val_fraction=0.5, seed=3)
    assert a["split"].tolist() == b["split"].tolist()
    val_ids = set(a.loc[a["split"] == "val", "identity"]) - {""}
    train_ids = set(a.loc[a["split"] == "train", "identity"]) - {""}
    assert not val_ids & train_ids  # no identity on both sides
    assert set(a.loc[a["split"] == "test", "video_id"]) == set(
        index_dataset("celebdf", cdf_root).query("split == 'test'")["video_id"])


def test_v1_prefix_and_videos_subfolder(tmp_path, make_video):
    root = tmp_path / "Celeb-DF"
    make_video(root / "Celeb-real/videos/id5_0003.mp4")
    make_video(root / "Celeb-synthesis/videos/id5_id6_0003.mp4")
    (root / "List_of_testing_videos.txt").write_text("0 Celeb-synthesis/id5_id6_0003.mp4\n")
    df = index_dataset("celebdf", root, version="v1")
    assert df["video_id"].tolist() == ["celebdf-v1/Celeb-real/id5_0003",
                                       "celebdf-v1/Celeb-synthesis/id5_id6_0003"]
    assert df["split"].tolist() == ["train", "test"]
    assert df["pair_id"].tolist() == ["celebdf-v1/Celeb-real/id5_0003"] * 2


def test_missing_list_and_missing_videos(cdf_root):
    (cdf_root / "Celeb-real" / "id2_0000.mp4").unlink()
    with pytest.raises(DataError, match="not on disk"):
        index_dataset("celebdf", cdf_root)
    df = index_dataset("celebdf", cdf_root, missing="skip")
    assert len(df) == 8 and len(df.attrs["missing"]) == 1
    (cdf_root / "List_of_testing_videos.txt").unlink()
    with pytest.raises(DataError, match="List_of_testing_videos.txt"):
        index_dataset("celebdf", cdf_root)
