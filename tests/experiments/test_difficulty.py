import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from fakescope.cli.main import app, main
from fakescope.errors import ConfigError
from fakescope.experiments.difficulty import drop_ci, format_table, run_difficulty

GENS = ["sbi", "morph", "gan_upsample"]
SETUP = dict(identities=16, images_per_identity=3, size=32, image_size=32, detector="tiny",
             epochs=1, generators=GENS, seed=0, workers=1, splits=(0.5, 0.25, 0.25), n_boot=100)


@pytest.mark.slow
def test_difficulty_table_ci_and_resume(tmp_path):
    out = tmp_path / "diff"
    said: list[str] = []
    table = run_difficulty(out, logo=["sbi", "morph"], say=said.append, **SETUP)
    assert list(table["generator"]) == GENS
    assert {"n_fake", "auc_in", "auc_in_lo", "auc_in_hi", "auc_logo", "auc_logo_lo",
            "auc_logo_hi", "drop", "drop_lo", "drop_hi", "in_target"} <= set(table.columns)
    assert (table["n_fake"] > 0).all()
    assert (table["auc_in_lo"] <= table["auc_in"]).all()
    assert (table["auc_in"] <= table["auc_in_hi"]).all()
    logo = table.set_index("generator")
    assert logo.loc[["sbi", "morph"], "auc_logo"].notna().all()
    assert pd.isna(logo.loc["gan_upsample", "auc_logo"])
    for g in ("sbi", "morph"):
        r = logo.loc[g]
        assert r["auc_logo_lo"] <= r["auc_logo"] <= r["auc_logo_hi"]
        assert r["drop"] == pytest.approx(r["auc_in"] - r["auc_logo"])
        assert r["drop_lo"] <= r["drop"] <= r["drop_hi"]
    # in-domain AUC of one generator = sklearn on its fakes vs every real of the test scores
    scores = pd.read_csv(out / "scores" / "all.csv")
    assert set(scores["split"]) == {"test"}
    part = scores[(scores["label"] == 0) | (scores["source"] == "morph")]
    assert logo.loc["morph", "auc_in"] == pytest.approx(roc_auc_score(part["label"],
                                                                      part["p_fake"]))
    # the LOGO training never saw the held-out generator's fakes
    assert not (out / "scores" / "logo_gan_upsample.csv").exists()
    assert (out / "report.html").exists() and (out / "figures" / "difficulty.png").exists()
    assert "| sbi |" in format_table(table)
    # resume: a rerun (here through the CLI) reuses every finished training, same numbers
    res = CliRunner().invoke(app, [
        "study", "difficulty", "--out", str(out), "--identities", "16",
        "--images-per-identity", "3", "--size", "32", "--image-size", "32", "--detector",
        "tiny", "--epochs", "1", "--generators", ",".join(GENS), "--logo-only", "sbi,morph",
        "--splits", "0.5,0.25,0.25", "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert res.output.count("reusing") == 3
    again = pd.read_csv(out / "difficulty.csv")
    pd.testing.assert_series_equal(again["auc_in"], table["auc_in"])
    pd.testing.assert_series_equal(again["auc_logo"], table["auc_logo"])


def test_unknown_logo_generator_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="LOGO"):
        run_difficulty(tmp_path, logo=["face_swap"], say=None, **SETUP)


def test_cli_bad_splits_exit_2(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["study", "difficulty", "--out", str(tmp_path), "--splits", "0.5,0.5"])
    assert exc.value.code == 2


def test_training_settings_are_the_protocol_then_the_overrides():
    from fakescope.experiments.difficulty import training_settings

    s = training_settings(detector="tiny", image_size=32, epochs=3, batch_size=8, lr=0.01,
                          seed=2, overrides=["data.sampler=shuffle", "optim.weight_decay=0.1"])
    assert s["data.sampler"] == "shuffle" and s["optim.weight_decay"] == 0.1  # the override wins
    assert (s["model.name"], s["train.epochs"], s["train.seed"]) == ("tiny", 3, 2)
    assert s["model.pretrained"] is False


def test_bad_override_fails_before_the_benchmark_build(tmp_path):
    with pytest.raises(ConfigError):
        run_difficulty(tmp_path, logo=False, overrides=["data.no_such_key=1"], say=None, **SETUP)
    assert not (tmp_path / "benchmark").exists() and not (tmp_path / "training.json").exists()


def _cli_args(out, epochs):
    return ["study", "difficulty", "--out", str(out), "--identities", "16",
            "--images-per-identity", "3", "--size", "32", "--image-size", "32", "--detector",
            "tiny", "--epochs", str(epochs), "--generators", ",".join(GENS), "--no-logo",
            "--splits", "0.5,0.25,0.25", "--workers", "1"]


def test_rerun_with_other_settings_is_refused_or_retrained(tmp_path, capsys):
    out = tmp_path / "diff"
    run_difficulty(out, logo=False, say=None, **SETUP)
    record = json.loads((out / "training.json").read_text())  # what difficulty-seeds reads
    assert record["settings"]["train.epochs"] == 1 and record["training"]["train"]["epochs"] == 1
    with pytest.raises(ConfigError, match=r"runs.all.*train.epochs: 1 -> 2"):
        run_difficulty(out, logo=False, say=None, **{**SETUP, "epochs": 2})
    # the CLI: one line, exit code 2, naming the difference and the way out
    with pytest.raises(SystemExit) as exc:
        main(_cli_args(out, 2))
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "train.epochs: 1 -> 2" in err and "--retrain" in err and len(err.splitlines()) == 1
    with pytest.raises(SystemExit) as exc:
        main([*_cli_args(out, 2), "--retrain"])
    assert exc.value.code == 0
    assert "retraining" in capsys.readouterr().out
    run = json.loads((out / "runs" / "all" / "run.json").read_text())
    assert run["finished"] and run["settings"]["train"]["epochs"] == 2
    assert json.loads((out / "training.json").read_text())["settings"]["train.epochs"] == 2
    # a training made before the run step (no run.json) is refused too, with --retrain the fix
    (out / "runs" / "all" / "run.json").unlink()
    with pytest.raises(ConfigError, match="no run.json.*--retrain"):
        run_difficulty(out, logo=False, say=None, **{**SETUP, "epochs": 2})


def _toy_scores(rng, n_id=60):
    rows = []
    for i in range(n_id):
        for k in range(2):
            rows.append({"sample_id": f"{i}_{k}_real", "label": 0, "source": "real",
                         "identity": f"id{i}", "p_fake": rng.uniform(0, 0.7)})
        rows.append({"sample_id": f"{i}_g", "label": 1, "source": "g" if i % 2 else "h",
                     "identity": f"id{i}", "p_fake": rng.uniform(0.3, 1.0)})
    return pd.DataFrame(rows)


def test_drop_ci_is_paired_and_matches_sklearn():
    rng = np.random.default_rng(0)
    a = _toy_scores(rng)
    part = a[(a["label"] == 0) | (a["source"] == "g")]
    d, lo, hi = drop_ci(a, part, "g", n_boot=200)
    assert (d, lo, hi) == (0.0, 0.0, 0.0)  # the same scores: no drop, and no doubt about it
    b = part.copy()
    fake = b["label"] == 1
    b.loc[fake, "p_fake"] -= 0.2  # the LOGO detector is less sure of every fake
    d, lo, hi = drop_ci(a, b.iloc[::-1], "g", n_boot=200)  # row order does not matter
    ref = roc_auc_score(part["label"], part["p_fake"]) - roc_auc_score(b["label"], b["p_fake"])
    assert d == pytest.approx(ref)
    assert 0 < lo <= d <= hi
    # paired: far tighter than the independent intervals of the two AUCs
    from fakescope.metrics.detection import bootstrap_ci, roc_auc

    a_lo, a_hi = bootstrap_ci(roc_auc, part["label"], part["p_fake"], n_boot=200)
    assert hi - lo < a_hi - a_lo
