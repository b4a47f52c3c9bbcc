"""FaceForensics++ / DFD layout on a fixture tree in the official layout."""

from __future__ import annotations

import json

import pytest

from fakescope.data.adapters import index_dataset
from fakescope.errors import ConfigError, DataError

PAIRS = {"train": [["000", "003"]], "val": [["001", "004"]], "test": [["002", "005"]]}
IDS = ["000", "001", "002", "003", "004", "005"]


@pytest.fixture
def ffpp_root(tmp_path, make_video):
    root = tmp_path / "FaceForensics++"
    for i in IDS:
        make_video(root / "original_sequences/youtube/c23/videos" / f"{i}.mp4")
    for method in ("Deepfakes", "FaceSwap"):
        for a, b in [p for pairs in PAIRS.values() for p in pairs]:
            make_video(root / "manipulated_sequences" / method / "c23/videos" / f"{a}_{b}.mp4")
            make_video(root / "manipulated_sequences" / method / "c23/videos" / f"{b}_{a}.mp4")
    make_video(root / "original_sequences/actors/c23/videos/01__walking.mp4")
    make_video(root / "manipulated_sequences/DeepFakeDetection/c23/videos/01_02__walking__AB12.mp4")
    for split, pairs in PAIRS.items():
        (root / f"{split}.json").write_text(json.dumps(pairs))
    return root


def test_counts_labels_splits_ids(ffpp_root):
    df = index_dataset("ffpp", ffpp_root)
    assert len(df) == 6 + 2 * 6
    assert (df["label"] == 0).sum() == 6
    assert df.groupby("source").size().to_dict() == {"Deepfakes": 6, "FaceSwap": 6, "real": 6}
    # the same clip under two methods stays two videos
    assert df["video_id"].is_unique
    assert {"ffpp/Deepfakes/000_003", "ffpp/FaceSwap/000_003"} <= set(df["video_id"])
    row = df.set_index("video_id").loc["ffpp/Deepfakes/003_000"]
    assert (row["identity"], row["source_identity"], row["split"]) == ("003", "000", "train")
    split = df.set_index("video_id")["split"]
    assert split["ffpp/original/002"] == "test" and split["ffpp/FaceSwap/005_002"] == "test"
    assert split["ffpp/original/004"] == "val"
    assert df.groupby("split").size().to_dict() == {"test": 6, "train": 6, "val": 6}
    assert set(df["media"]) == {"video"}


def test_pair_id_names_the_real_video_a_fake_was_made_from(ffpp_root):
    pair = index_dataset("ffpp", ffpp_root, subset="all").set_index("video_id")["pair_id"]
    assert pair["ffpp/original/000"] == "ffpp/original/000"
    assert pair["ffpp/Deepfakes/000_003"] == pair["ffpp/FaceSwap/000_003"] == "ffpp/original/000"
    assert pair["ffpp/Deepfakes/003_000"] == "ffpp/original/003"
    # every FF++ fake points at a real row of the manifest (the target video)
    ff = pair[pair.index.str.startswith("ffpp/")]
    assert set(ff) == {f"ffpp/original/{i}" for i in IDS}
    assert pair["dfd/original/01__walking"] == "dfd/original/01__walking"
    assert pair["dfd/DeepFakeDetection/01_02__walking__AB12"] == "dfd/original/01__walking"


def test_dfd_subset_and_methods_filter(ffpp_root):
    dfd = index_dataset("ffpp", ffpp_root, subset="dfd", dfd_split="test")
    assert dfd["video_id"].tolist() == ["dfd/original/01__walking",
                                        "dfd/DeepFakeDetection/01_02__walking__AB12"]
    assert dfd["label"].tolist() == [0, 1] and set(dfd["split"]) == {"test"}
    assert dfd["identity"].tolist() == ["01", "01"]
    both = index_dataset("ffpp", ffpp_root, subset="all", methods="Deepfakes")
    assert len(both) == 6 + 6 + 2


def test_missing_folders_and_lists_name_the_expected_path(ffpp_root):
    (ffpp_root / "val.json").unlink()
    with pytest.raises(DataError, match="val.json"):
        index_dataset("ffpp", ffpp_root)
    assert set(index_dataset("ffpp", ffpp_root, splits="none")["split"]) == {""}
    with pytest.raises(DataError, match="NeuralTextures/c23/videos"):
        index_dataset("ffpp", ffpp_root, methods="NeuralTextures", splits="none")
    with pytest.raises(DataError, match="c40/videos"):
        index_dataset("ffpp", ffpp_root, compression="c40", splits="none")
    with pytest.raises(DataError, match="original_sequences"):
        index_dataset("ffpp", ffpp_root / "manipulated_sequences")
    with pytest.raises(ConfigError, match="valid options"):
        index_dataset("ffpp", ffpp_root, compresion="c23")


class _WholeFrame:
    """Stub detector: one face covering the middle of every frame (no dlib needed)."""

    def detect(self, image):
        from fakescope.data.faces import Face

        h, w = image.shape[:2]
        return [Face((w / 4, h / 4, 3 * w / 4, 3 * h / 4), 1.0, None)]


def test_frame_manifest_keeps_pair_id(ffpp_root, tmp_path):
    from fakescope.data.face_extraction import extract_faces
    from fakescope.data.manifest import read_manifest

    videos = index_dataset("ffpp", ffpp_root, methods="Deepfakes")
    extract_faces(videos, tmp_path / "faces", frames_per_video=2, size=8, detector=_WholeFrame())
    faces = read_manifest(tmp_path / "faces" / "faces.csv")
    assert len(faces) == 2 * len(videos) and set(faces["media"]) == {"image"}
    # every crop carries the pair_id of the video it was cut from
    want = videos.set_index("sample_id")["pair_id"]
    assert (faces["pair_id"] == faces["source_sample_id"].map(want)).all()
    # so a real frame of 000 and the frames of the fake 000_003 share a key
    by_key = faces.groupby("pair_id")["source_sample_id"].unique().map(sorted)
    assert by_key["ffpp/original/000"] == ["ffpp/Deepfakes/000_003", "ffpp/original/000"]
