"""The video study's controls and heart-rate table (the end-to-end run is in test_demo)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from fakescope.experiments.video.controls import control_aucs, verdict
from fakescope.experiments.video.report import hr_error_table


def _features(easy_for: set[str], n_real=40, n_fake=16, seed=0) -> pd.DataFrame:
    """Real clips and two generators' fakes; ``easy_for`` generators are far off on both
    heart-rate features (the frame-difference features carry nothing)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_real):
        rows.append({"label": 0, "source": "real", "identity": f"r{i // 2}", "temporal_mode": ""})
    for g in ("a", "b"):
        for i in range(n_fake):
            rows.append({"label": 1, "source": g, "identity": f"{g}{i // 2}",
                         "temporal_mode": ("consistent", "flicker")[i % 2]})
    df = pd.DataFrame(rows)
    for c in ("hr_pos_bpm", "snr_pos_db", "fde_log_mean", "fde_log_std"):
        df[c] = rng.normal(0, 1, len(df))
    shift = df["source"].isin(easy_for)
    df.loc[shift, ["hr_pos_bpm", "snr_pos_db"]] += 6.0
    return df


def test_controls_find_an_easy_generator_and_only_that_one():
    aucs = control_aucs(_features({"a"}), folds=4, n_boot=100)
    pooled = aucs[aucs["mode"] == "all"].set_index(["control", "generator"])["auc"]
    assert pooled["heart_rate", "a"] > 0.95
    assert 0.2 < pooled["heart_rate", "b"] < 0.8
    assert (pooled["frame_difference"] < 0.85).all()
    assert set(aucs["mode"]) == {"all", "consistent", "flicker"}
    assert (aucs["auc_lo"] <= aucs["auc"]).all() and (aucs["auc"] <= aucs["auc_hi"]).all()
    assert verdict(aucs) == {"heart_rate": False, "frame_difference": False}
    assert verdict(control_aucs(_features({"a", "b"}), folds=4, n_boot=50))["heart_rate"]


def test_control_auc_is_the_auc_of_out_of_fold_scores():
    df = _features({"a"})
    aucs = control_aucs(df, folds=4, n_boot=20)
    row = aucs[(aucs.control == "heart_rate") & (aucs.generator == "a") & (aucs["mode"] == "all")]
    # the AUC is computed from scores of models that never saw the identity they score: with
    # no signal at all it is near 0.5, not the in-sample optimum
    null = control_aucs(_features(set(), seed=3), folds=4, n_boot=20)
    assert null["auc"].dropna().between(0.15, 0.85).all()
    d = df[df.source.isin(["real", "a"])]
    assert roc_auc_score(d.label, d.hr_pos_bpm) > 0.95 and row["auc"].iloc[0] > 0.95


def test_hr_error_table_per_domain_and_skin_tone():
    man = pd.DataFrame({"sample_id": [f"s{i}" for i in range(8)], "label": [0] * 6 + [1, 1],
                        "identity": ["i0", "i0", "i1", "i2", "i3", "i3", "i4", "i5"],
                        "domain": ["studio"] * 3 + ["phone"] * 5,
                        "skin_tone": ["light", "dark"] * 4,
                        "hr_bpm": [60.0, 70, 80, 90, 100, 110, 60, 60]})
    sig = pd.DataFrame({"sample_id": man.sample_id,
                        "hr_pos_bpm": man.hr_bpm + [1, -2, 3, 10, 0, 0, 50, 50],
                        "hr_chrom_bpm": man.hr_bpm})
    t = hr_error_table(man, sig, n_boot=50).set_index(["by", "group", "method"])
    assert t.loc[("domain", "studio", "pos"), "mae_bpm"] == 2.0
    assert t.loc[("domain", "phone", "pos"), "clips"] == 3  # fakes are not counted
    assert abs(t.loc[("domain", "phone", "pos"), "mae_bpm"] - 10 / 3) < 1e-9
    assert t.loc[("domain", "phone", "pos"), "within_3bpm"] == 2 / 3
    assert t.loc[("domain", "studio", "chrom"), "mae_bpm"] == 0
    assert ("domain", "studio", "green") not in t.index  # no such column
    assert t.loc[("domain+skin_tone", "studio/light", "pos"), "mae_bpm"] == 2.0  # rows 0 and 2


def test_clips_shorter_than_a_signal_window_are_refused_before_any_work(tmp_path):
    import pytest

    from fakescope.errors import ConfigError
    from fakescope.experiments.video import VideoStudyConfig, run_video_study

    with pytest.raises(ConfigError, match="shorter than one signal window"):
        run_video_study(tmp_path / "v", VideoStudyConfig(seconds=2.0), say=None)
    assert not (tmp_path / "v").exists()
