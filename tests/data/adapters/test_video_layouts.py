"""Every dataset layout indexes real video files as rows that PyAV then decodes.

Fixture trees hold real H.264 / FFV1 clips (32x32, 8 frames, written with ``write_clip``); each
test checks the rows (one per video: path, video_id, label, source, split, media) and that
``iter_frames`` decodes every indexed path. DeepfakeBench's JSONs list extracted frames, never
videos (its ``rearrange.py`` writes ``"frames": [png, ...]``), so that layout is checked for
frames grouped into videos instead.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from fakescope.data.adapters import index_dataset
from fakescope.data.images import load_image, save_image
from fakescope.data.video_stream import iter_frames, write_clip

N = 8


def clip(path, codec="h264"):
    rng = np.random.default_rng(len(str(path)))
    frames = [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(N)]
    return write_clip(path, frames, 25, codec=codec)


def decodes_all(df) -> None:
    assert (df["media"] == "video").all()
    for p in df["path"]:
        it = iter_frames(p)
        frames = [f for _, f in it]
        assert len(frames) == N and frames[0].shape == (32, 32, 3) and it.bad_frames == 0, p


def test_ffpp_and_dfd_videos(tmp_path):
    root = tmp_path / "FaceForensics++"
    for rel in ("original_sequences/youtube/c23/videos/000.mp4",
                "original_sequences/youtube/c23/videos/001.mp4",
                "manipulated_sequences/Deepfakes/c23/videos/000_001.mp4",
                "manipulated_sequences/FaceSwap/c23/videos/001_000.mp4",
                "original_sequences/actors/c23/videos/01__walking.mp4",
                "manipulated_sequences/DeepFakeDetection/c23/videos/01_02__walking__AB12CD34.mp4"):
        clip(root / rel)
    (root / "train.json").write_text(json.dumps([["000", "001"]]))
    (root / "val.json").write_text("[]")
    (root / "test.json").write_text("[]")
    df = index_dataset("ffpp", root, subset="all", dfd_split="test").set_index("video_id")
    assert df["label"].to_dict() == {
        "ffpp/original/000": 0, "ffpp/original/001": 0, "ffpp/Deepfakes/000_001": 1,
        "ffpp/FaceSwap/001_000": 1, "dfd/original/01__walking": 0,
        "dfd/DeepFakeDetection/01_02__walking__AB12CD34": 1}
    assert df.loc["ffpp/Deepfakes/000_001", "source"] == "Deepfakes"
    assert set(df.loc[df["dataset"] == "ffpp", "split"]) == {"train"}
    assert set(df.loc[df["dataset"] == "dfd", "split"]) == {"test"}
    assert (df["frame"] == 0).all()
    decodes_all(df)


def test_celebdf_videos(tmp_path):
    root = tmp_path / "Celeb-DF-v2"
    for rel in ("Celeb-real/id0_0000.mp4", "YouTube-real/00000.mp4",
                "Celeb-synthesis/id0_id1_0000.mp4"):
        clip(root / rel)
    (root / "List_of_testing_videos.txt").write_text("1 YouTube-real/00000.mp4\n")
    df = index_dataset("celebdf", root).set_index("video_id")
    assert df["label"].to_dict() == {"celebdf-v2/Celeb-real/id0_0000": 0,
                                     "celebdf-v2/YouTube-real/00000": 0,
                                     "celebdf-v2/Celeb-synthesis/id0_id1_0000": 1}
    assert df["split"].to_dict()["celebdf-v2/YouTube-real/00000"] == "test"
    assert df.loc["celebdf-v2/Celeb-synthesis/id0_id1_0000", "source"] == "Celeb-synthesis"
    decodes_all(df)


def test_dfdc_videos(tmp_path):
    part = tmp_path / "dfdc" / "dfdc_train_part_0"
    clip(part / "aaa.mp4")
    clip(part / "bbb.mp4")
    (part / "metadata.json").write_text(json.dumps({
        "aaa.mp4": {"label": "REAL", "split": "train"},
        "bbb.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"}}))
    df = index_dataset("dfdc", tmp_path / "dfdc").set_index("video_id")
    assert df["label"].to_dict() == {"dfdc/aaa": 0, "dfdc/bbb": 1}
    assert df["source"].to_dict() == {"dfdc/aaa": "real", "dfdc/bbb": "DFDC"}
    assert set(df["split"]) == {"train"}
    decodes_all(df)


def test_df40_videos(tmp_path):
    root = tmp_path / "DF40"
    clip(root / "test" / "heygen" / "clipA.mp4")
    clip(root / "test" / "simswap" / "ff" / "000_003.mp4")
    clip(root / "test" / "real" / "youtube" / "000.mov")
    df = index_dataset("df40", root).set_index("video_id")
    assert df["label"].to_dict() == {"df40/test/heygen/clipA.mp4": 1,
                                     "df40/test/real/youtube/000.mov": 0,
                                     "df40/test/simswap/ff/000_003.mp4": 1}
    assert df.loc["df40/test/simswap/ff/000_003.mp4", "domain"] == "ff"
    assert set(df["split"]) == {"test"}
    decodes_all(df)


def test_folder_videos(tmp_path):
    root = tmp_path / "mine"
    clip(root / "train" / "real" / "a.mp4")
    clip(root / "train" / "fake" / "sora" / "b.mkv", codec="ffv1")
    clip(root / "val" / "fake" / "c.mp4")
    df = index_dataset("folder", root, frames_as_videos=True).set_index("video_id")
    assert df["label"].to_dict() == {"mine/train/real/a.mp4": 0, "mine/train/fake/sora/b.mkv": 1,
                                     "mine/val/fake/c.mp4": 1}
    assert df["source"].tolist() == ["real", "sora", "fake"]
    assert df["split"].tolist() == ["train", "train", "val"]
    decodes_all(df)


def test_deepfakebench_lists_frames_not_videos(tmp_path):
    data = tmp_path / "rgb"
    frames = [f"Celeb-DF-v2/Celeb-synthesis/frames/id0_id1_0000/{i:03d}.png" for i in (0, 10)]
    for f in frames:
        save_image(data / f, np.full((16, 16, 3), 100, np.uint8))
    js = {"Celeb-DF-v2": {"CelebDFv2_fake": {"test": {
        "id0_id1_0000": {"label": "CelebDFv2_fake", "frames": frames}}}}}
    (tmp_path / "cdf.json").write_text(json.dumps(js))
    df = index_dataset("deepfakebench", tmp_path / "cdf.json", data_root=str(data))
    assert set(df["video_id"]) == {"Celeb-DF-v2/CelebDFv2_fake/id0_id1_0000"}
    assert df["frame"].tolist() == [0, 10] and set(df["media"]) == {"image"}
    assert df["label"].tolist() == [1, 1] and set(df["split"]) == {"test"}
    for p in df["path"]:
        assert load_image(p).shape == (16, 16, 3)


@pytest.mark.parametrize("layout", ["ffpp", "celebdf", "dfdc", "df40", "folder"])
def test_indexed_videos_feed_the_signal_batch(tmp_path, layout):
    """A layout's manifest is accepted by extract_signals as is: every clip is attempted and
    fails alone (8 frames is too short for a signal window), naming its file."""
    from fakescope.signals.pipeline import extract_signals

    root = tmp_path / "d"
    if layout == "ffpp":
        clip(root / "original_sequences/youtube/c23/videos/000.mp4")
        clip(root / "manipulated_sequences/Deepfakes/c23/videos/000_001.mp4")
        opts = {"splits": "none"}
    elif layout == "celebdf":
        clip(root / "Celeb-real/id0_0000.mp4")
        (root / "List_of_testing_videos.txt").write_text("")
        opts = {}
    elif layout == "dfdc":
        clip(root / "aaa.mp4")
        (root / "metadata.json").write_text(json.dumps({"aaa.mp4": {"label": "REAL"}}))
        opts = {}
    else:
        clip(root / ("real" if layout == "folder" else "heygen") / "x.mp4")
        opts = {}
    df = index_dataset(layout, root, **opts)
    s = extract_signals(df, tmp_path / "out", flow="none", progress=False)
    assert (s.done, s.failed) == (0, len(df))
    for (path, msg), expect in zip(s.errors, df["path"], strict=True):
        assert path == expect and "too short" in msg
