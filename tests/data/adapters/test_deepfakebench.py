"""DeepfakeBench dataset JSON layout."""

from __future__ import annotations

import json

import pytest

from fakescope.data.adapters import index_dataset
from fakescope.errors import DataError


def _frames(base, n=2):
    return [f"{base}/{i:03d}.png" for i in range(n)]


@pytest.fixture
def dfb(tmp_path, make_image):
    data = tmp_path / "rgb"
    ff = "FaceForensics++/{}/c23/frames/{}"
    js = {"FF-DF": {
        "FF-real": {"train": {"c23": {"000": {"label": "FF-real", "frames": _frames(
            "/old/machine/rgb/" + ff.format("original_sequences/youtube", "000"))}}},
                    "val": {"c23": {}}, "test": {"c23": {}}},
        "FF-DF": {"train": {"c23": {"000_003": {"label": "FF-DF", "frames": _frames(
            "/old/machine/rgb/" + ff.format("manipulated_sequences/Deepfakes", "000_003"))}}},
                  "val": {"c23": {}}, "test": {"c23": {}}},
        "FF-FS": {"test": {"c23": {"000_003": {"label": "FF-FS", "frames": _frames(
            "/old/machine/rgb/" + ff.format("manipulated_sequences/FaceSwap", "000_003"))}}}},
    }}
    cdf = {"Celeb-DF-v2": {"CelebDFv2_real": {
        # DeepfakeBench lists Celeb-DF test videos under train as well
        "train": {"id0_0000": {"label": "CelebDFv2_real", "frames": _frames("Celeb-DF-v2/Celeb-real/frames/id0_0000")}},
        "test": {"id0_0000": {"label": "CelebDFv2_real", "frames": _frames("Celeb-DF-v2/Celeb-real/frames/id0_0000")}}}}}
    for doc in (js, cdf):
        for labels in doc.values():
            for splits in labels.values():
                for node in splits.values():
                    vids = node.get("c23", node)
                    for v in vids.values():
                        for f in v["frames"]:
                            make_image(data / f.replace("/old/machine/rgb/", ""))
    jdir = tmp_path / "dataset_json"
    jdir.mkdir()
    (jdir / "FF-DF.json").write_text(json.dumps(js))
    (jdir / "Celeb-DF-v2.json").write_text(json.dumps(cdf))
    return jdir, data


def test_frames_labels_unique_ids_and_split_precedence(dfb):
    jdir, data = dfb
    df = index_dataset("deepfakebench", jdir, data_root=str(data), strip_prefix="/old/machine/rgb/")
    assert len(df) == 4 * 2
    assert df.groupby("video_id")["split"].first().to_dict() == {
        "Celeb-DF-v2/CelebDFv2_real/id0_0000": "test", "FF-DF/FF-DF/000_003": "train",
        "FF-DF/FF-FS/000_003": "test", "FF-DF/FF-real/000": "train"}
    assert df.groupby("source")["label"].first().to_dict() == {"FF-DF": 1, "FF-FS": 1, "real": 0}
    assert sorted(df.loc[df["video_id"] == "FF-DF/FF-DF/000_003", "frame"]) == [0, 1]
    assert all(p.startswith(str(data)) for p in df["path"])
    assert "pair_id" not in df.columns  # the JSONs do not link a fake to its real


def test_relative_paths_missing_frames_and_bad_json(dfb, tmp_path):
    jdir, data = dfb
    with pytest.raises(DataError, match="not on disk"):
        index_dataset("deepfakebench", jdir / "FF-DF.json")  # old absolute paths, no strip
    one = index_dataset("deepfakebench", jdir / "Celeb-DF-v2.json", data_root=str(data))
    assert len(one) == 2 and set(one["split"]) == {"test"}
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DataError, match="JSON"):
        index_dataset("deepfakebench", tmp_path / "bad.json")
