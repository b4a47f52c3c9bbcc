"""The video study's detectors step: identity folds, one out-of-fold score per clip and detector,
the per-generator AUC and family calibration tables, and the report sections."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from fakescope.data.synthfaces.video_build import build_video_benchmark
from fakescope.experiments.video.detectors import (
    DetectorOptions,
    assign_folds,
    clip_table,
    fold_splits,
    run_detectors,
)
from fakescope.experiments.video.detectors_report import (
    calibration_table,
    chance_caveat,
    detector_sections,
    family_ece_difference,
    generator_lines,
    per_generator_auc,
)
from fakescope.experiments.video.frames import face_box, frame_indices
from fakescope.metrics.calibration import ece
from fakescope.report import Report

BENCH = {"identities": 6, "clips_per_identity": 1, "seconds": 4.5, "size": 48,
         "domains": ("studio",), "generators": ("sbi", "face_swap")}


def test_folds_never_share_an_identity_between_training_and_scored_clips():
    ids = np.repeat([f"id{i:02d}" for i in range(13)], 3)
    fold_of = assign_folds(ids, 3, seed=4)
    assert sorted(np.bincount(list(fold_of.values()))) == [4, 4, 5]
    scored = []
    for k in range(3):
        split = fold_splits(ids, fold_of, k, val_fraction=0.2, seed=4)
        test, fit = set(ids[split == "test"]), set(ids[split != "test"])
        assert not test & fit and test | fit == set(ids)
        val = set(ids[split == "val"])
        assert len(val) == 2 and not val & set(ids[split == "train"])
        scored.extend(ids[split == "test"])
    assert sorted(scored) == sorted(ids)  # every row scored exactly once
    assert assign_folds(ids, 3, seed=4) == fold_of


def test_frame_sampling_and_face_crop():
    assert frame_indices(135, 8).tolist() == [0, 19, 38, 57, 77, 96, 115, 134]
    assert frame_indices(10, 1).tolist() == [4]
    pts = np.array([[10.0, 20.0], [30.0, 40.0]])
    assert face_box(pts, (48, 48), margin=1.4) == (6, 16, 34, 44)
    assert face_box(pts + 20, (48, 48), margin=1.4) == (20, 20, 48, 48)  # kept inside
    assert face_box(np.full((68, 2), np.nan), (48, 64)) == (0, 0, 64, 48)


def test_clip_scores_join_their_clips_columns_and_fold():
    clips = pd.DataFrame({"sample_id": ["a", "b", "c"], "label": [0, 1, 1],
                          "source": ["real", "sbi", "sbi"], "identity": ["i", "j", "k"]})
    scores = pd.DataFrame({"sample_id": ["b", "a"], "p_fake": [0.7, 0.3],
                           "unc_epistemic": [0.1, 0.2], "n_frames": [2, 3], "label": [1, 0]})
    t = clip_table(scores, clips, 2)
    assert t["sample_id"].tolist() == ["a", "b"]  # clip order; c was not scored
    np.testing.assert_allclose(t["p_fake"], [0.3, 0.7])
    assert t["identity"].tolist() == ["i", "j"] and t["n_frames"].tolist() == [3, 2]
    assert t["fold"].tolist() == [2, 2]


def _scores(seed=0, n_id=40) -> dict[str, pd.DataFrame]:
    """Hand-made scores: per identity a real and one fake of ``a`` or ``b``; the biological
    detector separates ``a`` only, the blind one ``b`` only; the blind detector is
    overconfident (badly calibrated)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_id):
        rows.append({"sample_id": f"r{i}", "label": 0, "source": "real", "identity": f"i{i}"})
        rows.append({"sample_id": f"f{i}", "label": 1, "source": "ab"[i % 2],
                     "identity": f"i{i}"})
    base = pd.DataFrame(rows)
    out = {}
    for det, easy, sharp in (("ppg_map", "a", 1.0), ("resnet18", "b", 6.0)):
        t = base.copy()
        z = rng.normal(0, 1, len(t)) + 2.5 * (t["source"] == easy)
        t["p_fake"] = 1 / (1 + np.exp(-sharp * (z - 0.6)))
        t["unc_epistemic"] = rng.uniform(0, 0.1, len(t))
        out[det] = t
    return out


def test_per_generator_auc_matches_sklearn_and_names_the_generators():
    scores = _scores()
    auc = per_generator_auc(scores, n_boot=200)
    for r in auc.itertuples():
        t = scores[r.detector]
        d = t[t["source"].isin(["real", r.generator])]
        assert r.auc == pytest.approx(roc_auc_score(d["label"], d["p_fake"]))
        assert r.auc_lo <= r.auc <= r.auc_hi and r.n_real == 40 and r.n_fake == 20
    got = auc.set_index(["detector", "generator"])["above_chance"]
    assert got["ppg_map", "a"] and not got["ppg_map", "b"]
    assert got["resnet18", "b"] and not got["resnet18", "a"]
    lines = generator_lines(auc)
    assert lines[0] == "ppg_map: AUC interval above 0.5 on a; not on b."
    assert lines[-1].endswith("biological detector only: a; for a blind detector only: b.")


def test_family_ece_difference_is_paired_over_identities():
    scores = _scores()
    diff = family_ece_difference(scores, n_boot=300)
    for det, fam in (("ppg_map", "biological"), ("resnet18", "blind")):
        t = scores[det]
        assert diff[fam] == pytest.approx(ece(t["p_fake"], t["label"]))
        assert diff[f"{fam}_lo"] <= diff[fam] <= diff[f"{fam}_hi"]
    assert diff["difference"] == pytest.approx(diff["biological"] - diff["blind"])
    assert diff["difference_lo"] <= diff["difference"] <= diff["difference_hi"]
    assert diff["difference_hi"] < 0 and diff["verdict"] == "holds"
    same = {"ppg_map": scores["ppg_map"], "tiny": scores["ppg_map"]}
    d0 = family_ece_difference(same, n_boot=100)
    assert d0["difference"] == 0 and d0["verdict"] == "not established"
    assert family_ece_difference({"ppg_map": scores["ppg_map"]},
                                 n_boot=20)["verdict"] == "one family only"


def test_a_detector_at_chance_is_named_beside_its_ece():
    scores = _scores()
    flat = scores["resnet18"].assign(p_fake=0.5)  # 50 % fakes: perfectly "calibrated"
    cal = calibration_table({"ppg_map": scores["ppg_map"], "tiny": flat}, n_boot=100)
    row = cal.set_index("detector").loc["tiny"]
    assert row["ece"] == pytest.approx(0.0) and row["auc"] == 0.5
    assert chance_caveat(cal).startswith(" Caveat: tiny separates")
    assert chance_caveat(cal[cal["detector"] == "ppg_map"]) == ""


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The step on a tiny benchmark (6 identities, 12 clips, 2 generators) with ppg_map and the
    tiny blind detector, 3 folds, 1 epoch; ~40 s on 2 cores."""
    out = tmp_path_factory.mktemp("video_detectors")
    clips = build_video_benchmark(out / "video", **BENCH)
    opts = DetectorOptions(detectors=("ppg_map", "tiny"), folds=3, map_epochs=1,
                           blind_epochs=1, frames_per_clip=3, image_size=32, samples=4,
                           batch_size=16)
    return out, clips, opts, run_detectors(clips, out, opts)


@pytest.mark.slow
def test_every_clip_gets_one_out_of_fold_score_per_detector(study):
    out, clips, opts, result = study
    assert result.skip_reason is None and set(result.scores) == {"ppg_map", "tiny"}
    fold_of = assign_folds(clips["identity"], 3)
    for det, t in result.scores.items():
        assert sorted(t["sample_id"]) == sorted(clips["sample_id"]), det
        assert (t["fold"] == t["identity"].map(fold_of)).all()
        assert t["p_fake"].between(0, 1).all() and (t["unc_epistemic"] >= 0).all()
        on_disk = pd.read_csv(out / "tables" / f"video_scores_{det}.csv")
        assert {"label", "source", "identity", "domain", "temporal_mode", "p_fake",
                "unc_epistemic", "unc_aleatoric"} <= set(on_disk.columns)
        for k in range(3):
            rec = json.loads((out / "video_models" / det / f"fold{k}" / "run.json").read_text())
            assert rec["finished"]
    assert result.scores["tiny"]["n_frames"].eq(3).all()
    # a rerun reuses every fold's run and its cached scores
    again = run_detectors(clips, out, opts)
    for det in result.scores:
        pd.testing.assert_frame_equal(again.scores[det], result.scores[det])


@pytest.mark.slow
def test_sections_reach_report_json(study):
    out, clips, opts, result = study
    report = Report(out / "report")
    for s in detector_sections(result, clips, out / "report", n_boot=50):
        report.add(s)
    report.render()
    doc = json.loads((out / "report" / "report.json").read_text())
    assert {"video_detectors", "video_calibration", "video_maps"} <= set(doc)
    auc = doc["video_detectors"]["numbers"]["auc"]
    assert set(auc) == {f"{d}/{g}" for d in ("ppg_map", "tiny") for g in ("sbi", "face_swap")}
    assert (out / "report" / "figures" / "video_maps" / "video_example_maps.png").is_file()
    assert "same code path" in (out / "report" / "report.html").read_text()


def test_too_few_identities_skip_the_step_with_a_reason(tmp_path):
    clips = pd.DataFrame({"sample_id": ["a", "b"], "identity": ["i", "j"]})
    result = run_detectors(clips, tmp_path, DetectorOptions(folds=3), say=None)
    assert "fewer than the 6" in result.skip_reason and not result.scores
    (sec,) = detector_sections(result, clips, tmp_path)
    assert sec.key == "video_detectors" and "Not run" in sec.text


def test_generators_with_too_few_fakes_get_no_claim():
    rows = [{"sample_id": f"r{i}", "label": 0, "source": "real", "identity": f"i{i}",
             "p_fake": 0.1} for i in range(10)]
    rows += [{"sample_id": "f0", "label": 1, "source": "lone", "identity": "i0", "p_fake": 0.9}]
    rows += [{"sample_id": f"g{i}", "label": 1, "source": "many", "identity": f"i{i}",
              "p_fake": 0.9} for i in range(6)]
    t = pd.DataFrame(rows)
    auc = per_generator_auc({"ppg_map": t}, n_boot=50)
    lone = auc[auc["generator"] == "lone"].iloc[0]
    assert lone["auc"] == 1.0 and lone["too_few"] and not lone["above_chance"]
    assert auc[auc["generator"] == "many"].iloc[0]["above_chance"]
    lines = generator_lines(auc)
    assert "no claim either way: lone" in lines[0] and "above 0.5 on many" in lines[1]
