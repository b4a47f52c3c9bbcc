"""The fairness study on a tiny configuration."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace

import pandas as pd
import pytest

from fakescope.errors import ConfigError
from fakescope.experiments import fairness as fs
from fakescope.metrics.fairness import SmallGroupWarning, fairness_report


def test_switches_flip_one_setting_each():
    cfg = fs.tiny_config()
    base = fs.train_config(cfg, fs.Switches(), 9).to_dict()
    for name, sw in fs.METHODS.items():
        d = fs.train_config(cfg, sw, 9).to_dict()
        changed = {f"{sec}.{k}" for sec in d if isinstance(d[sec], dict)
                   for k in d[sec] if d[sec][k] != base[sec][k]}
        expected = {"erm": set(), "synthetic": set(), "sam": {"optim.sam"},
                    "multitask": {"model.heads", "loss.name", "loss.options"},
                    "reweight": {"loss.name", "loss.options"}, "dro": {"loss.name", "loss.options"},
                    "combined": {"optim.sam", "model.heads", "loss.name", "loss.options"}}[name]
        assert changed == expected, name
    with pytest.raises(ConfigError):
        fs.Switches(reweight=True, dro=True)
    with pytest.raises(ConfigError, match="unknown method"):
        fs.tiny_config(methods=["erm", "magic"]).method_names()


@pytest.mark.slow
def test_tiny_study_end_to_end(tmp_path, monkeypatch):
    cfg = fs.tiny_config(methods=["erm", "dro", "combined"])
    monkeypatch.chdir(tmp_path.parent)  # a relative --out, as the docs write it
    res = fs.run_fairness_study(tmp_path.name, cfg)
    # "combined" trains on every balancing image: none skipped, more rows than ERM
    assert not (tmp_path / "runs" / "combined" / "skipped.csv").exists()
    n_train = {m: json.loads((tmp_path / "runs" / m / "run.json").read_text())["rows"]["n_train"]
               for m in ("erm", "combined")}
    assert n_train["combined"] > n_train["erm"]
    t = res.table
    assert list(t["method"]) == ["erm", "erm", "dro", "dro", "combined", "combined"]
    assert set(t["domain"]) == {"studio", "phone"}
    assert {"auc", "F_FPR", "F_FPR_lo", "F_OAE_hi", "F_G"} <= set(t.columns)
    assert t["auc"].between(0, 1).all()
    assert t["resampled"].str.startswith("identity (").all()  # clusters, not images
    assert (t["F_OAE_lo"] <= t["F_OAE"]).all() and (t["F_OAE"] <= t["F_OAE_hi"]).all()
    # the balanced manifest balances skin_tone*age_group x label in train
    bal = pd.read_csv(tmp_path / "data" / "balanced" / "manifest.csv")
    counts = pd.crosstab(bal.loc[bal["split"] == "train", "fair_group"],
                         bal.loc[bal["split"] == "train", "label"])
    assert counts.to_numpy().min() == counts.to_numpy().max()
    # report section and figures exist; the verdict names both gaps
    sec = json.loads((tmp_path / "sections" / "fairness_study.json").read_text())
    assert sec["figures"] and all((tmp_path / f).is_file() for f in sec["figures"])
    assert "F_FPR" in res.verdict["text"] and "F_OAE" in res.verdict["text"]
    assert (tmp_path / "report.html").is_file()
    # the intersection gaps of the table equal a fresh audit of the saved scores
    scores = pd.read_csv(tmp_path / "runs" / "erm" / "test_scores.csv")
    sub = scores[scores["eval_set"] == "test_b"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        rep = fairness_report(sub, groups=["skin_tone*age_group"], n_boot=0,
                              min_group_size=cfg.min_group_size)
    row = t[(t["method"] == "erm") & (t["domain"] == "phone")].iloc[0]
    for k, v in rep.groupings["skin_tone*age_group"].gaps.items():
        assert row[k] == pytest.approx(v, nan_ok=True)
    # a second run reuses every finished method
    again = fs.run_fairness_study(tmp_path, cfg)
    pd.testing.assert_frame_equal(again.table, res.table)



@pytest.mark.slow
def test_rerun_with_other_settings_is_refused_or_retrained(tmp_path):
    cfg = fs.tiny_config(methods=["erm"], detector="tiny", test_identities=6, n_boot=0)
    first = fs.run_fairness_study(tmp_path, cfg)
    # same settings: the run and its scores are reused
    again = fs.run_fairness_study(tmp_path, cfg)
    pd.testing.assert_frame_equal(again.table, first.table)
    # other training settings or other data: refused, naming the difference
    with pytest.raises(ConfigError, match="train.epochs: 1 -> 2"):
        fs.run_fairness_study(tmp_path, replace(cfg, epochs=2))
    with pytest.raises(ConfigError, match="identities: 12 -> 14"):
        fs.run_fairness_study(tmp_path, replace(cfg, identities=14))
    # retrain: the run is trained again with the new settings
    fs.run_fairness_study(tmp_path, replace(cfg, epochs=2),
                          retrain=True)
    record = json.loads((tmp_path / "runs" / "erm" / "run.json").read_text())
    assert record["finished"] and record["settings"]["train"]["epochs"] == 2
