"""Plain folder layout: real/ and fake/<source>/, optionally by split."""

from __future__ import annotations

import pytest

from fakescope.data.adapters import index_dataset
from fakescope.errors import DataError


def test_real_fake_sources_images_and_videos(tmp_path, make_image, make_video):
    root = tmp_path / "mine"
    make_image(root / "real/a.png")
    make_image(root / "real/sub/b.jpg")
    make_image(root / "fake/sdxl/c.png")
    make_video(root / "fake/sora/d.mp4")
    make_image(root / "fake/e.png")
    (root / "real/notes.txt").write_text("ignored")
    df = index_dataset("folder", root)
    assert len(df) == 5
    assert df.set_index("sample_id")["source"].to_dict() == {
        "mine/real/a.png": "real", "mine/real/sub/b.jpg": "real", "mine/fake/sdxl/c.png": "sdxl",
        "mine/fake/sora/d.mp4": "sora", "mine/fake/e.png": "fake"}
    assert df.groupby("label")["sample_id"].apply(sorted).to_dict() == {
        0: ["mine/real/a.png", "mine/real/sub/b.jpg"],
        1: ["mine/fake/e.png", "mine/fake/sdxl/c.png", "mine/fake/sora/d.mp4"]}
    assert (df["video_id"] == df["sample_id"]).all()
    assert df.set_index("sample_id").loc["mine/fake/sora/d.mp4", "media"] == "video"
    assert "pair_id" not in df.columns  # real/ and fake/ are not linked


def test_splits_and_frames_as_videos(tmp_path, make_image):
    root = tmp_path / "d"
    for split in ("train", "test"):
        make_image(root / split / "real/clip1/0001.png")
        make_image(root / split / "real/clip1/0002.png")
        make_image(root / split / "fake/gen/clip9/0007.png")
    df = index_dataset("folder", root, frames_as_videos=True, name="d")
    assert df.groupby("split").size().to_dict() == {"test": 3, "train": 3}
    tr = df[df["split"] == "train"]
    assert tr["video_id"].tolist() == ["d/train/real/clip1", "d/train/real/clip1",
                                       "d/train/fake/gen/clip9"]
    assert tr["frame"].tolist() == [1, 2, 7]


def test_missing_real_and_fake_names_expected_path(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(DataError, match="real"):
        index_dataset("folder", tmp_path / "x")
    with pytest.raises(DataError, match="not found"):
        index_dataset("folder", tmp_path / "nope")
