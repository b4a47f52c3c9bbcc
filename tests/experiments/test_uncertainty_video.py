"""The uncertainty study on a video manifest: blind and biological detectors answer per clip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from fakescope.data.manifest import like
from fakescope.experiments.uncertainty import UncertaintyStudyConfig, run_uncertainty_study
from fakescope.experiments.uncertainty.clips import Clips
from fakescope.experiments.uncertainty.data import cluster_ids
from fakescope.experiments.uncertainty.video import is_video_manifest
from fakescope.scores import read_scores
from fakescope.uncertainty.decompose import decompose
from tests._dummies.bio_video import tiny_video


class _Noisy(nn.Module):
    """P(fake) = sigmoid(mean pixel + dropout noise): every pass differs."""

    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)
        self.head_dropout = self.drop
        self.scale = nn.Parameter(torch.ones(1))

    def features(self, x):
        return self.scale * x.mean((2, 3))

    def forward(self, x):
        z = self.drop(self.features(x)).sum(1, keepdim=True)
        return torch.cat([-z, z], 1)


def test_clip_probabilities_average_units_per_pass_not_uncertainties():
    torch.manual_seed(0)
    x = torch.rand(6, 3, 4, 4)
    rows = pd.DataFrame({"sample_id": ["a", "b"], "label": [0, 1], "source": ["real", "sbi"]})
    clips = Clips(x, np.array([0, 0, 0, 1, 1, 1]), rows, {})
    model = _Noisy()
    probs = clips.predict(model, method="mc", samples=5, seed=3)
    assert probs.shape == (5, 2, 2)
    from fakescope.models.predict import predict_samples

    units = predict_samples(model, x, method="mc", samples=5, seed=3)
    want = torch.stack([units[:, :3].mean(1), units[:, 3:].mean(1)], 1)
    assert torch.allclose(probs, want, atol=1e-6)
    # the clip's epistemic part is the passes' disagreement about the clip mean, not the mean
    # of its frames' epistemic parts
    clip_epi = decompose(probs)["epistemic"]
    frame_epi = decompose(units)["epistemic"].reshape(2, 3).mean(1)
    assert not np.allclose(clip_epi, frame_epi)
    feats = clips.features(model)
    assert np.allclose(feats[1], x[3:].mean((2, 3)).mean(0).numpy(), atol=1e-6)


def test_cluster_ids_prefer_identity_then_video():
    df = pd.DataFrame({"identity": ["p1", "p1", "p2"], "video_id": ["v1", "v2", "v3"]})
    assert cluster_ids(df).tolist() == ["p1", "p1", "p2"]
    df.loc[2, "identity"] = ""
    assert cluster_ids(df).tolist() == ["v1", "v2", "v3"]


@pytest.fixture(scope="module")
def video_manifest(tmp_path_factory):
    """The shared tiny benchmark (6 identities, real + sbi clip each), re-split 3 / 1 / 2
    identities so the test split has two people."""
    _, rows = tiny_video(tmp_path_factory.getbasetemp())
    ids = sorted(rows["identity"].unique())
    split = {i: "train" if n < 3 else "val" if n == 3 else "test" for n, i in enumerate(ids)}
    out = rows.copy()
    out["split"] = out["identity"].map(split)
    return like(out, rows)


@pytest.mark.slow
def test_video_study_scores_both_families_per_clip(video_manifest, tmp_path):
    assert is_video_manifest(video_manifest)
    said = []
    cfg = UncertaintyStudyConfig(
        detectors=["tiny", "ppg_map"], methods=["mc_head", "ensemble", "tta"],
        experiments=["binary", "multiclass", "source", "robustness"], epochs=1, map_epochs=1,
        image_size=32, samples=3, ensemble_size=2, frames_per_clip=2, max_per_class=0,
        batch_size=8, device="cpu")
    res = run_uncertainty_study(video_manifest, tmp_path / "o", cfg, log=said.append)
    assert any("robustness" in s and "left out" in s for s in said)
    n_test = int((video_manifest["split"] == "test").sum())
    summary = res.tables["summary"]
    assert set(zip(summary["detector"], summary["method"], strict=True)) == {
        ("tiny", "mc_head"), ("tiny", "ensemble"), ("tiny", "tta"), ("ppg_map", "mc_head"),
        ("ppg_map", "ensemble")}  # no test-time augmentation of a signal map
    assert (summary["n"] == n_test).all()
    for det in ("tiny", "ppg_map"):
        scores = read_scores(tmp_path / "o" / "scores" / f"{det}__mc_head.csv")
        assert len(scores) == n_test and scores["sample_id"].is_unique
        assert set(scores["sample_id"]) == set(
            video_manifest.loc[video_manifest["split"] == "test", "sample_id"])
    cal = res.tables["family_calibration"]
    assert dict(zip(cal["detector"], cal["family"], strict=True)) == {
        "tiny": "blind", "ppg_map": "biological"}
    assert {"family_per_generator", "source_attribution"} <= set(res.tables)
    feats = set(res.tables["source_attribution"]["features"])
    assert {"uncertainty (biological detectors)", "uncertainty (blind detectors)"} <= feats
    numbers = json.loads((tmp_path / "o" / "study.json").read_text())
    assert numbers["unit"] == "clip"
    assert numbers["family"]["ece_difference"]["verdict"] in (
        "holds", "reversed", "not established")
    assert "robustness" not in numbers["config"]["experiments"]
    html = (tmp_path / "o" / "report.html").read_text()
    assert "test clips" in html and "Detector families on clips" in html
    # a second run reuses every run and the measured results
    again = run_uncertainty_study(video_manifest, tmp_path / "o", cfg, log=said.append)
    pd.testing.assert_frame_equal(again.tables["summary"].drop(columns="ms_per_clip"),
                                  summary.drop(columns="ms_per_clip"))
