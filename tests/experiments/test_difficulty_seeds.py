"""Seed replicates of the difficulty study: combining runs, their checks, the t interval."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fakescope.cli.main import main
from fakescope.errors import ConfigError, DataError
from fakescope.experiments.difficulty.seeds import combine_runs, format_summary, t_interval


def _run(folder, seed, drops, auc_in=(0.9, 0.8), settings=("train.epochs=8",), version=5,
         record=None):
    (folder / "benchmark").mkdir(parents=True)
    (folder / "benchmark" / "synth_config.json").write_text(json.dumps(
        {"identities": 250, "seed": seed, "synth_version": version}))
    rows = []
    for g, a, d in zip(("sbi", "morph"), auc_in, drops, strict=True):
        rows.append({"generator": g, "n_fake": 40, "auc_in": a, "auc_logo": a - d,
                     "drop": d, "drop_lo": d - 0.03, "drop_hi": d + 0.03})
    pd.DataFrame(rows).to_csv(folder / "difficulty.csv", index=False)
    (folder / "training.json").write_text(json.dumps(
        record or {"overrides": [*settings, f"train.seed={seed}"]}))
    return folder


def test_t_interval_matches_scipy():
    v = np.array([0.031, 0.043, 0.002, 0.012])
    lo, hi = t_interval(v)
    ref = stats.ttest_1samp(v, 0).confidence_interval(0.95)
    assert lo == pytest.approx(ref.low) and hi == pytest.approx(ref.high)
    assert np.isnan(t_interval(v[:1])[0])


def test_combine_runs_summarises_per_generator(tmp_path):
    runs = [_run(tmp_path / f"s{s}", s, d, a) for s, d, a in
            ((0, (0.04, 0.10), (0.90, 0.80)), (1, (0.00, 0.08), (0.99, 0.78)),
             (2, (0.02, float("nan")), (0.88, 0.74)))]
    summary = combine_runs(runs).set_index("generator")
    sbi, morph = summary.loc["sbi"], summary.loc["morph"]
    assert sbi["runs_in"] == 3 and sbi["runs_in_band"] == 2  # 0.99 is above the band
    assert sbi["drop_mean"] == pytest.approx(0.02)
    assert (sbi["drop_mean_lo"], sbi["drop_mean_hi"]) == pytest.approx(t_interval([0.04, 0, 0.02]))
    assert sbi["runs_drop_above_zero"] == 1  # paired lower bound drop - 0.03 > 0 only for 0.04
    assert morph["runs_logo"] == 2 and morph["drop_min"] == pytest.approx(0.08)
    assert morph["runs_in_band"] == 2
    text = format_summary(summary.reset_index())
    assert "| sbi |" in text and "2/3" in text


def test_runs_must_differ_only_in_their_seed(tmp_path):
    a = _run(tmp_path / "a", 0, (0.04, 0.1))
    with pytest.raises(ConfigError, match="same seed"):
        combine_runs([a, _run(tmp_path / "b", 0, (0.02, 0.1))])
    with pytest.raises(ConfigError, match="train.epochs=4"):
        combine_runs([a, _run(tmp_path / "c", 1, (0.02, 0.1), settings=("train.epochs=4",))])
    with pytest.raises(ConfigError, match="benchmark.synth_version=4"):
        combine_runs([a, _run(tmp_path / "d", 2, (0.02, 0.1), version=4)])
    with pytest.raises(DataError, match="not a finished difficulty run"):
        combine_runs([a, tmp_path / "missing"])
    with pytest.raises(ConfigError):
        combine_runs([])


def test_runs_of_the_run_step_combine_with_older_runs(tmp_path):
    """training.json of a run-step study holds its settings as a dict; one written before holds
    ``key=value`` texts (values parsed as YAML). The same settings in either form combine."""
    old = _run(tmp_path / "old", 0, (0.04, 0.1), settings=(
        "model.name=resnet18", "model.pretrained=False", "optim.lr=0.002",
        "data.cache_images=true", "data.sampler=paired", "data.sampler=shuffle"))
    new = {"model.name": "resnet18", "model.pretrained": False, "optim.lr": 2e-3,
           "data.cache_images": True, "data.sampler": "shuffle"}
    summary = combine_runs([old, _run(tmp_path / "new", 1, (0.02, 0.1),
                                      record={"settings": {**new, "train.seed": 1}})])
    assert list(summary["runs_in"]) == [2, 2]
    with pytest.raises(ConfigError, match='data.sampler="paired"'):
        combine_runs([old, _run(tmp_path / "other", 2, (0.02, 0.1), record={
            "settings": {**new, "data.sampler": "paired", "train.seed": 2}})])


def test_cli_prints_and_writes_the_summary(tmp_path, capsys):
    runs = [str(_run(tmp_path / f"s{s}", s, (0.03 * s, 0.1))) for s in range(2)]
    with pytest.raises(SystemExit) as exc:
        main(["study", "difficulty-seeds", *runs, "--out", str(tmp_path / "seeds.csv")])
    assert exc.value.code == 0
    assert "| morph |" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "seeds.csv")) == 2


def test_cli_missing_run_exits_2_naming_the_folder(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["study", "difficulty-seeds", str(tmp_path / "nope")])
    assert exc.value.code == 2
    assert "nope" in capsys.readouterr().err
