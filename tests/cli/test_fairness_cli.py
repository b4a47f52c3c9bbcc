"""`fakescope fairness` end to end on a small scores file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, false_positive_rate
from typer.testing import CliRunner

from fakescope.cli.main import app, main


def _scores(tmp_path, n=240, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)],
                       "video_id": [f"v{i // 4}" for i in range(n)],
                       "label": rng.integers(0, 2, n), "p_fake": rng.random(n).round(3)})
    df["gender"] = np.where(np.arange(n) % 2 == 0, "male", "female")
    f = tmp_path / "scores.csv"
    df.to_csv(f, index=False)
    return f, df


def test_fairness_cli_writes_json_matching_fairlearn(tmp_path):
    f, df = _scores(tmp_path)
    df["race"] = np.random.default_rng(1).choice(["asian", "white", "black"], len(df))
    df.to_csv(f, index=False)
    out = tmp_path / "fair.json"
    res = CliRunner().invoke(app, ["fairness", "--scores", str(f), "--groups", "gender,race",
                                   "--intersect", "--json", str(out), "--bootstrap", "50",
                                   "--min-group-size", "5"])
    assert res.exit_code == 0, res.output
    assert "F_FPR" in res.output and "gender*race" in res.output
    d = json.loads(out.read_text())
    assert set(d) == {"gender", "race", "gender*race"}
    yhat = (df["p_fake"] >= 0.5).astype(int)
    mf = MetricFrame(metrics=false_positive_rate, y_true=df["label"], y_pred=yhat,
                     sensitive_features=df["race"])
    for g, v in mf.by_group.items():
        assert d["race"]["groups"][g]["fpr"] == pytest.approx(v)
    assert d["race"]["gaps"]["F_FPR"] == pytest.approx(100 * mf.difference())
    assert len(d["race"]["gaps_ci"]["F_FPR"]) == 2
    # no identity column: the four frames of a video are resampled together, and it says so
    assert d["race"]["resampled"] == "video_id (60 clusters)"
    assert "resampled video_id (60 clusters)" in res.output


def test_fairness_cli_joins_pgfdd_attributes(tmp_path):
    f, df = _scores(tmp_path)
    vids = df["video_id"].unique()
    attrs = pd.DataFrame({"video_id": vids, "intersec_label": np.arange(len(vids)) % 8})
    a = tmp_path / "attrs.csv"
    attrs.to_csv(a, index=False)
    out = tmp_path / "fair.json"
    res = CliRunner().invoke(app, ["fairness", "--scores", str(f), "--groups", "race",
                                   "--attributes", str(a), "--join-on", "video_id",
                                   "--json", str(out), "--bootstrap", "0"])
    assert res.exit_code == 0, res.output
    assert set(json.loads(out.read_text())["race"]["groups"]) == {"asian", "white", "black",
                                                                  "others"}


def test_fairness_cli_bad_column_exits_2(tmp_path, capsys):
    f, _ = _scores(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["fairness", "--scores", str(f), "--groups", "skin"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "no group column 'skin'" in err and "scores.csv" in err


@pytest.mark.slow
def test_study_fairness_refuses_a_run_with_other_settings(tmp_path, capsys):
    from fakescope.experiments.fairness import StudyConfig, run_fairness_study

    out = tmp_path / "fair"
    # what `study fairness --identities 12 --test-identities 6 --images-per-identity 2
    # --epochs 1 --detector tiny --size 32 --bootstrap 0 --methods erm --device cpu` runs
    run_fairness_study(out, StudyConfig(identities=12, test_identities=6, images_per_identity=2,
                                        epochs=1, detector="tiny", size=32, n_boot=0,
                                        device="cpu", methods=["erm"], progress=False))
    args = ["study", "fairness", "--out", str(out), "--identities", "12", "--test-identities",
            "6", "--images-per-identity", "2", "--epochs", "2", "--detector", "tiny", "--size",
            "32", "--bootstrap", "0", "--methods", "erm", "--device", "cpu"]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "train.epochs: 1 -> 2" in err and "--retrain" in err and "Traceback" not in err
    assert "--retrain" in CliRunner().invoke(app, ["study", "fairness", "--help"]).output
