"""Frame -> video aggregation by the unique video id."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from fakescope.errors import ConfigError, DataError
from fakescope.metrics.video import aggregate_videos


def _scores():
    return pd.DataFrame({
        "sample_id": [f"s{i}" for i in range(7)],
        "video_id": ["ffpp/Deepfakes/000_003"] * 3 + ["ffpp/FaceSwap/000_003"] * 2
        + ["ffpp/original/000"] * 2,
        "label": [1, 1, 1, 1, 1, 0, 0],
        "p_fake": [0.9, 0.2, 0.4, 0.6, 0.8, 0.1, 0.5],
        "source": ["Deepfakes"] * 3 + ["FaceSwap"] * 2 + ["real"] * 2,
        "gender": ["f"] * 5 + ["m", "m"],
        "frame": [0, 1, 2, 0, 1, 0, 1],
        "logit_0": np.zeros(7),
    })


@pytest.mark.parametrize("how", ["mean", "median", "max"])
def test_aggregation_matches_pandas(how):
    s = _scores()
    v = aggregate_videos(s, how=how)
    expect = getattr(s.groupby("video_id")["p_fake"], how)()
    assert v["video_id"].tolist() == sorted(s["video_id"].unique())
    np.testing.assert_allclose(v["p_fake"], expect.loc[v["video_id"]].to_numpy())
    assert v["n_frames"].tolist() == [3, 2, 2]
    assert v["label"].tolist() == [1, 1, 0]
    assert v["source"].tolist() == ["Deepfakes", "FaceSwap", "real"]
    assert "gender" in v.columns and "frame" not in v.columns and "logit_0" not in v.columns


def test_same_clip_under_two_methods_stays_two_videos_and_auc():
    v = aggregate_videos(_scores())
    assert len(v) == 3
    # mean scores 0.5, 0.7 (fake) vs 0.3 (real): video AUC 1.0 by sklearn
    assert roc_auc_score(v["label"], v["p_fake"]) == 1.0


def test_mixed_labels_and_bad_options():
    s = _scores()
    s.loc[0, "label"] = 0
    with pytest.raises(DataError, match="ffpp/Deepfakes/000_003"):
        aggregate_videos(s)
    with pytest.raises(ConfigError):
        aggregate_videos(_scores(), how="mode")


def test_missing_video_id_falls_back_to_sample():
    s = _scores().drop(columns="video_id")
    v = aggregate_videos(s)
    assert len(v) == 7 and (v["n_frames"] == 1).all()
