"""score_video: frames -> (faces) -> detector -> per-frame and video P(fake)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fakescope.data.dataset import resize_to_tensor
from fakescope.data.faces import Face
from fakescope.data.video import read_frames, write_video
from fakescope.data.video_scoring import score_video
from fakescope.errors import DataError


class LeftSquare:
    """Reports one face box in the left half of every frame whose left half is bright."""

    def detect(self, image):
        h, w = image.shape[:2]
        return [Face((2.0, 2.0, w / 2 - 2, h - 2.0))] if image[:, : w // 2].mean() > 100 else []


class TinyDetector(torch.nn.Module):
    """The Detector interface in miniature: (N, 3, H, W) in [0, 1] -> {"detect": (N, 2)}."""

    arch = {"image_size": 32}

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x):
        return {"detect": self.fc(self.conv(x).mean((2, 3)))}


@pytest.fixture
def model():
    torch.manual_seed(0)
    return TinyDetector().eval()


def test_whole_frames_match_a_manual_forward(tmp_path, model):
    rng = np.random.default_rng(0)
    path = write_video(tmp_path / "v.avi", [rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
                                            for _ in range(10)], fps=5)
    res = score_video(model, path, frames=4, face_extractor=None)
    frames = read_frames(path, num_frames=4)
    x = torch.stack([resize_to_tensor(f, 32) for _, f in frames])
    with torch.no_grad():
        expect = 1 - torch.softmax(model(x)["detect"], -1)[:, 0]
    assert [r["frame"] for r in res["frames"]] == [i for i, _ in frames]
    np.testing.assert_allclose([r["p_fake"] for r in res["frames"]], expect.numpy(), rtol=1e-5)
    assert res["video_score"] == pytest.approx(float(expect.mean()), rel=1e-5)


def test_frames_without_face_are_listed_not_scored(tmp_path, model):
    bright = np.full((40, 48, 3), 200, np.uint8)
    dark = np.zeros((40, 48, 3), np.uint8)
    path = write_video(tmp_path / "v.avi", [bright, dark] * 3, fps=5)
    res = score_video(model, path, frames=6, face_extractor=LeftSquare(), crop_size=32)
    assert [r["face"] for r in res["frames"]] == [True, False] * 3
    assert res["n_scored"] == 3 and res["frames"][1]["p_fake"] is None
    scored = [r["p_fake"] for r in res["frames"] if r["face"]]
    assert res["video_score"] == pytest.approx(float(np.mean(scored)))
    dark_only = write_video(tmp_path / "d.avi", [dark] * 3, fps=5)
    with pytest.raises(DataError, match="no face"):
        score_video(model, dark_only, frames=3, face_extractor=LeftSquare())
