"""The detection session: faces found and aligned per the checkpoint's record, one result per
face, the most-fake face as the file's result, the OOD flag, streaming, bytes, maps and videos.

A stand-in face detector (fixed boxes relative to the image it is given) keeps these tests free
of dlib; the last test runs dlib on real photographs.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from fakescope.data.faces import Face
from fakescope.data.images import load_image, save_image
from fakescope.detect import DetectOptions, DetectSession, detect_images
from fakescope.uncertainty.ood import OODStats

PHOTO = Path(__import__("matplotlib").get_data_path()) / "sample_data" / "grace_hopper.jpg"


class BoxFaces:
    """Faces at fixed fractions of the image it is given: ``rel`` = [(x0, y0, x1, y1)]."""

    def __init__(self, rel):
        self.rel, self.calls = rel, 0

    def detect(self, image):
        self.calls += 1
        h, w = image.shape[:2]
        return [Face((a * w, b * h, c * w, d * h), 0.9) for a, b, c, d in self.rel]


TWO = [(0.55, 0.2, 0.95, 0.8), (0.05, 0.2, 0.45, 0.8)]  # given right first: results sort by x


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    img[:, 48:] //= 3  # the two halves differ, so do their faces' scores
    return save_image(tmp_path / "two.png", img), img


def _session(toy_checkpoint, rel=TWO, **opts):
    return DetectSession.load(toy_checkpoint / "best", DetectOptions(**opts),
                              face_detector=BoxFaces(rel))


def test_one_result_per_face_with_boxes_and_the_most_fake_face(toy_checkpoint, photo):
    path, img = photo
    [r] = list(_session(toy_checkpoint).iter_detect([path]))
    assert r["kind"] == "image" and r["n_faces"] == 2 and r["faces_mode"] == "auto"
    boxes = [f["box"] for f in r["faces"]]
    assert boxes == [[4.8, 12.8, 43.2, 51.2], [52.8, 12.8, 91.2, 51.2]]  # input pixels, by x
    top = max(r["faces"], key=lambda f: f["p_fake"])
    assert r["p_fake"] == top["p_fake"] and r["face"] == top["index"] and r["box"] == top["box"]
    assert r["faces"][0]["p_fake"] != r["faces"][1]["p_fake"]
    assert r["input"] == {"width": 96, "height": 64, "format": "PNG", "mode": "RGB", "notes": []}
    # the record of a checkpoint trained on whole images: crops of its training size
    assert r["ood_score"] is not None and isinstance(r["in_distribution"], bool)
    # each face scores as its own aligned crop would through the plain prediction path
    from fakescope.data.dataset import resize_to_tensor
    from fakescope.data.preprocessing import face_crops
    from fakescope.models.checkpoint import load_detector
    from fakescope.models.predict import predict

    model, meta = load_detector(toy_checkpoint / "best")
    record = meta["preprocessing"]["faces"]
    faces = [Face(tuple(b)) for b in ([4.8, 12.8, 43.2, 51.2], [52.8, 12.8, 91.2, 51.2])]
    x = torch.stack([resize_to_tensor(c, 32) for c, _ in face_crops(img, faces, record)])
    want = predict(model, x).p_fake.tolist()
    assert [f["p_fake"] for f in r["faces"]] == pytest.approx(want, abs=1e-5)


def test_no_face_is_reported_and_faces_none_scores_the_image_as_is(toy_checkpoint, photo):
    path, _ = photo
    [r] = list(_session(toy_checkpoint, rel=[]).iter_detect([path]))
    assert r["verdict"] == "no_face" and r["reason"] == "no_face" and r["n_faces"] == 0
    assert "not scored whole" in r["error"] and "--faces none" in r["error"]
    [r] = list(_session(toy_checkpoint, rel=[(0.1, 0.1, 0.2, 0.2)], min_face=24)
               .iter_detect([path]))
    assert r["reason"] == "no_face" and "1 face(s) smaller than the minimum of 24 px" in r["error"]
    [r] = list(_session(toy_checkpoint, rel=[], faces="none").iter_detect([path]))
    assert "error" not in r and r["n_faces"] is None and r["faces"][0]["box"] == [0, 0, 96, 64]


def test_out_of_distribution_gives_uncertain_and_keeps_p_fake(toy_checkpoint, photo):
    path, _ = photo
    s = _session(toy_checkpoint)
    [before] = list(s.iter_detect([path]))
    st = s.ood[0]
    s.ood[0] = OODStats(st.layers, threshold=1e-6, quantile=st.quantile)
    [r] = list(s.iter_detect([path]))
    assert r["verdict"] == "uncertain" and r["in_distribution"] is False
    assert r["p_fake"] == pytest.approx(before["p_fake"])
    assert all(f["verdict"] == "uncertain" for f in r["faces"])
    s.ood[0] = None  # a checkpoint without statistics: no flag, the plain verdict
    [r] = list(s.iter_detect([path]))
    assert r["ood_score"] is None and r["in_distribution"] is None
    assert r["verdict"] in ("real", "fake")


def test_stream_keeps_order_reads_lazily_and_takes_bytes(toy_checkpoint, photo, tmp_path):
    path, img = photo
    consumed = []

    def inputs():
        for i in range(6):
            consumed.append(i)
            yield path if i != 2 else tmp_path / "missing.png"

    s = _session(toy_checkpoint, batch_size=2)
    it = s.iter_detect(inputs())
    first = next(it)
    assert first["path"] == str(path) and len(consumed) <= 2  # scored before the rest is read
    rest = list(it)
    assert [r.get("reason") for r in [first, *rest]] == [None, None, "not_found", None, None,
                                                         None]
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=95)
    r = s.detect(buf.getvalue(), name="upload.jpg")
    assert r["path"] == "upload.jpg" and r["input"]["format"] == "JPEG" and r["n_faces"] == 2
    assert detect_images([path], toy_checkpoint / "best", faces="none")[0]["n_faces"] is None


def test_maps_are_drawn_at_the_input_resolution_over_the_faces(toy_checkpoint, photo, tmp_path):
    path, img = photo
    s = _session(toy_checkpoint, rel=[(0.05, 0.2, 0.45, 0.8)], uncertainty="mc_head", samples=4)
    [r] = list(s.iter_detect([path], map_dir=tmp_path / "maps"))
    assert set(r["maps"]) == {"saliency", "uncertainty"} and set(r["uncertainty"]) == {
        "total", "aleatoric", "epistemic", "variance"}
    sal = load_image(r["maps"]["saliency"])
    assert sal.shape == img.shape
    assert np.array_equal(sal[:, 60:], img[:, 60:])  # right of the face: the photo unchanged
    assert not np.array_equal(sal[20:40, 10:30], img[20:40, 10:30])  # the face: painted


def test_video_honours_uncertainty_and_map(toy_checkpoint, tmp_path):
    from fakescope.data.video import write_video

    rng = np.random.default_rng(0)
    clip = write_video(tmp_path / "clip.avi",
                       [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(10)])
    s = _session(toy_checkpoint, faces="none", uncertainty="mc_head", samples=4, frames=5)
    [r] = list(s.iter_detect([clip], map_dir=tmp_path / "maps"))
    assert r["kind"] == "video" and r["n_frames_scored"] == 5 and len(r["frames"]) == 5
    assert all(set(f["uncertainty"]) == {"total", "aleatoric", "epistemic", "variance"}
               for f in r["frames"])
    assert r["p_fake"] == pytest.approx(np.mean([f["p_fake"] for f in r["frames"]]))
    u = r["uncertainty"]
    assert u["total"] == pytest.approx(u["aleatoric"] + u["epistemic"], abs=1e-6)
    assert r["ood_score"] == pytest.approx(np.mean([f["ood_score"] for f in r["frames"]]))
    top = max(r["frames"], key=lambda f: f["p_fake"])["frame"]
    assert r["maps"]["frame"] == top and load_image(r["maps"]["saliency"]).shape == (48, 64, 3)


@pytest.mark.faces
@pytest.mark.skipif(not PHOTO.is_file(), reason="matplotlib sample photo not installed")
def test_dlib_finds_each_face_of_a_real_group_photo(toy_checkpoint, tmp_path):
    pytest.importorskip("dlib")
    img = cv2.resize(load_image(PHOTO), (256, 300))
    other = np.pad(cv2.resize(img[:, ::-1], (220, 258)), ((21, 21), (18, 18), (0, 0)))
    group = save_image(tmp_path / "group.png", np.concatenate([img, other], 1))
    [r] = detect_images([group], toy_checkpoint / "best")
    assert r["n_faces"] == 2 and r["faces"][0]["box"][2] < 256 <= r["faces"][1]["box"][0]
