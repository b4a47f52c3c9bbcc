"""Face alignment, multi-face policies and the resumable, sharded extraction pipeline.

Most tests inject a blob detector (bright squares = faces, landmarks from the template) so the
pipeline is checked without dlib; the last tests run dlib's HOG detector on a real photograph
(matplotlib's bundled ``grace_hopper.jpg``, the only face photo installed here).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from fakescope.data.face_extraction import extract_faces
from fakescope.data.faces import (
    Face,
    align_face,
    key_points,
    select_faces,
    transform_points,
    umeyama,
)
from fakescope.data.images import load_image, save_image
from fakescope.data.manifest import read_manifest
from fakescope.data.video import write_video
from fakescope.errors import ConfigError
from tests._dummies.faces import BlobDetector, _landmarks68, face_media


def test_umeyama_matches_opencv_on_exact_similarity():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    a, s, t = 0.4, 1.7, np.array([12.0, -5.0])
    m = np.array([[s * np.cos(a), -s * np.sin(a)], [s * np.sin(a), s * np.cos(a)]])
    dst = src @ m.T + t
    ours = umeyama(src, dst)
    cv, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    np.testing.assert_allclose(ours, np.c_[m, t], atol=1e-9)
    np.testing.assert_allclose(ours, cv, atol=1e-4)  # OpenCV refines in float32


def test_alignment_puts_key_points_on_the_template():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    face = Face((40, 30, 90, 80), 1.0, _landmarks68((40, 30, 90, 80)))
    crop, lm, m = align_face(img, face, size=64, margin=1.3)
    assert crop.shape == (64, 64, 3) and lm.shape == (68, 2)
    pts, tmpl = key_points(lm)
    np.testing.assert_allclose(pts, ((tmpl - 0.5) / 1.3 + 0.5) * 64, atol=1e-3)
    # the crop really samples the image through m: pixel at crop (u, v) = image at m^-1 (u, v)
    inv = cv2.invertAffineTransform(m)
    u, v = 32, 32
    x, y = transform_points(inv, np.array([[u, v]]))[0]
    assert abs(int(crop[v, u, 0]) - int(img[round(y), round(x), 0])) < 60
    # 5-point landmarks (dlib order: two eye-corner pairs, nose) align too
    five = np.array([[70, 50], [60, 50], [45, 50], [55, 50], [58, 65]], np.float32)
    crop5, lm5, _ = align_face(img, Face((40, 30, 90, 80), 1.0, five), size=32)
    assert crop5.shape == (32, 32, 3) and lm5.shape == (5, 2)
    # no landmarks: the box, squared and enlarged by the margin, fills the crop
    _, none, mb = align_face(img, Face((40, 30, 90, 80)), size=50, margin=1.0)
    assert none is None
    np.testing.assert_allclose(transform_points(mb, [[40, 30], [90, 80]]), [[0, 0], [50, 50]])


def test_policies():
    a, b, big = Face((0, 0, 10, 10)), Face((30, 0, 40, 10)), Face((10, 20, 40, 50))
    assert [[i for i, _ in f] for f in select_faces([[b, big, a], []], "largest")] == [[0], []]
    assert select_faces([[b, big, a]], "largest")[0][0][1] is big
    assert [f.box[0] for _, f in select_faces([[b, a]], "all")[0]] == [0, 30]
    # tracked: ids follow boxes across frames even when detection order changes
    a2, b2 = Face((31, 1, 41, 11)), Face((1, 1, 11, 11))
    c = Face((60, 60, 70, 70))
    got = select_faces([[a, b], [a2, b2, c], [b2]], "tracked")
    assert [(i, f.box[0]) for i, f in got[1]] == [(0, 1), (1, 31), (2, 60)]
    assert [(i, f.box[0]) for i, f in got[2]] == [(0, 1)]
    with pytest.raises(ConfigError):
        select_faces([], "biggest")


@pytest.fixture
def media(tmp_path):
    return face_media(tmp_path / "media")


def test_extract_counts_skips_landmarks_and_resume(media, tmp_path):
    out = tmp_path / "out"
    s = extract_faces(media, out, frames_per_video=3, policy="all", size=32,
                      detector=BlobDetector())
    assert (s.items, s.processed, s.frames) == (6, 6, 1 + 1 + 3)
    assert s.crops == 2 + 3 * 2 and s.total_crops == s.crops
    assert s.skipped_by_reason == {"no_face": 1, "zero_length": 1, "unreadable": 1,
                                   "missing_file": 1}
    faces = read_manifest(out / "faces.csv")
    assert faces["source_sample_id"].value_counts().to_dict() == {"vid/clip": 6, "img/two": 2}
    clip = faces[faces["source_sample_id"] == "vid/clip"]
    assert sorted(set(clip["frame"])) == [1, 3, 5]  # evenly spaced in 6 frames
    assert set(faces["gender"]) == {"f"} and set(clip["label"]) == {1}
    assert (clip["video_id"] == "vid/clip").all()
    for _, r in faces.iterrows():
        crop = load_image(out / r["path"])
        lm = np.load(out / r["landmarks_path"])
        assert crop.shape == (32, 32, 3) and lm.shape == (68, 2)
        pts, tmpl = key_points(lm)
        np.testing.assert_allclose(pts, ((tmpl - 0.5) / 1.3 + 0.5) * 32, atol=1e-3)
    skipped = pd.read_csv(out / "skipped.csv")
    assert set(skipped["reason"]) == {"no_face", "zero_length", "unreadable", "missing_file"}
    before = (out / faces["path"].iloc[0]).read_bytes()
    again = extract_faces(media, out, frames_per_video=3, policy="all", size=32,
                          detector=BlobDetector())
    assert (again.done_before, again.processed, again.total_crops) == (6, 0, s.crops)
    assert (out / faces["path"].iloc[0]).read_bytes() == before
    with pytest.raises(ConfigError, match="other settings"):
        extract_faces(media, out, frames_per_video=3, policy="all", size=64,
                      detector=BlobDetector())


def test_shards_cover_the_manifest_once_and_workers_agree(media, tmp_path):
    kw = dict(frames_per_video=3, policy="largest", size=24, detector=BlobDetector())
    parts = [extract_faces(media, tmp_path / "sh", num_shards=3, shard_index=i, **kw)
             for i in range(3)]
    assert sum(p.items for p in parts) == 6 and parts[-1].pending == 0
    whole = extract_faces(media, tmp_path / "one", workers=2, **kw)
    a = pd.read_csv(tmp_path / "sh" / "faces.csv")
    b = pd.read_csv(tmp_path / "one" / "faces.csv")
    pd.testing.assert_frame_equal(a, b)
    assert whole.crops == len(b) == 1 + 3
    for p in b["path"]:
        assert (tmp_path / "sh" / p).read_bytes() == (tmp_path / "one" / p).read_bytes()
    with pytest.raises(ConfigError):
        extract_faces(media, tmp_path / "x", num_shards=2, shard_index=2, **kw)


PHOTO = Path(__import__("matplotlib").get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.mark.slow
@pytest.mark.faces
@pytest.mark.skipif(not PHOTO.is_file(), reason="matplotlib sample photo not installed")
def test_dlib_on_a_real_photo_with_two_faces_and_a_video(tmp_path):
    pytest.importorskip("dlib")
    img = cv2.resize(load_image(PHOTO), (256, 300))
    # two faces: the photo and a smaller mirrored copy padded to the same height
    other = np.pad(cv2.resize(img[:, ::-1], (220, 258)), ((21, 21), (18, 18), (0, 0)))
    two = np.concatenate([img, other], 1)
    save_image(tmp_path / "group.png", two)
    write_video(tmp_path / "clip.mp4", [np.roll(img, 4 * k, axis=1) for k in range(8)], fps=8)
    df = pd.DataFrame({"sample_id": ["group", "clip"], "path": ["group.png", "clip.mp4"],
                       "label": [0, 1]})
    df.to_csv(tmp_path / "m.csv", index=False)
    s = extract_faces(tmp_path / "m.csv", tmp_path / "out", frames_per_video=4, policy="all",
                      size=64, detector="hog", upsample=0)
    faces = read_manifest(tmp_path / "out" / "faces.csv")
    group = faces[faces["source_sample_id"] == "group"]
    assert len(group) == 2 and group["face_index"].tolist() == [0, 1]
    assert group["box_x0"].iloc[0] < 256 <= group["box_x0"].iloc[1]
    assert (faces["source_sample_id"] == "clip").sum() == 4 and s.frames_without_face == 0
    lm = np.load(tmp_path / "out" / faces["landmarks_path"].iloc[0])
    pts, tmpl = key_points(lm)
    # real landmarks land near the template (least-squares fit, not exact)
    assert np.abs(pts - ((tmpl - 0.5) / 1.3 + 0.5) * 64).max() < 6


def test_crop_manifest_feeds_the_training_dataset(media, tmp_path):
    from fakescope.data.dataset import ManifestDataset

    extract_faces(media, tmp_path / "o", frames_per_video=2, size=24, detector=BlobDetector())
    faces = read_manifest(tmp_path / "o" / "faces.csv")
    ds = ManifestDataset(faces, image_size=16)
    item = ds[len(ds) - 1]
    assert tuple(item["image"].shape) == (3, 16, 16) and int(item["label"]) == 1


def test_tracked_policy_keeps_indices_through_the_pipeline(media, tmp_path):
    extract_faces(media, tmp_path / "t", frames_per_video=6, policy="tracked", size=24,
                  detector=BlobDetector())
    faces = read_manifest(tmp_path / "t" / "faces.csv")
    clip = faces[faces["source_sample_id"] == "vid/clip"]
    # the small square starts left (track 0) and moves right; the big one is track 1
    for idx, grp in clip.groupby("face_index"):
        widths = (grp["box_x1"] - grp["box_x0"]).unique()
        assert len(widths) == 1 and widths[0] == (16 if idx == 0 else 20)
    assert len(clip) == 12
