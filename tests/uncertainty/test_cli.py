import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import brier_score_loss, log_loss
from torchmetrics.functional.classification import binary_calibration_error
from typer.testing import CliRunner

from fakescope.cli.main import app, main


def _scores(path, n=300, seed=0, with_logits=True, split=None):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z / 3))).astype(int)  # logits 3x overconfident
    p = 1 / (1 + np.exp(-z))
    df = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "label": y, "p_fake": p})
    if with_logits:
        df["logit_0"], df["logit_1"] = 0.0, z
    if split is not None:
        df["split"] = split
    df.to_csv(path, index=False)
    return df


def test_calibrate_prints_numbers_matching_references(tmp_path):
    df = _scores(tmp_path / "s.csv", with_logits=False)
    res = CliRunner().invoke(app, ["calibrate", "--scores", str(tmp_path / "s.csv"), "--json",
                                   str(tmp_path / "c.json"), "--bins", "10", "--plot",
                                   str(tmp_path / "r.png")])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "c.json").read_text())
    row = next(r for r in out["rows"] if r["kind"] == "p_fake" and r["strategy"] == "uniform")
    ref = binary_calibration_error(torch.tensor(df["p_fake"].to_numpy()),
                                   torch.tensor(df["label"].to_numpy()), n_bins=10).item()
    assert row["ece"] == pytest.approx(ref, abs=1e-6)
    assert row["brier"] == pytest.approx(brier_score_loss(df["label"], df["p_fake"]))
    assert row["nll"] == pytest.approx(log_loss(df["label"], df["p_fake"]))
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_calibrate_fits_saves_and_applies_temperature(tmp_path):
    _scores(tmp_path / "val.csv", n=2000, seed=1)
    _scores(tmp_path / "test.csv", n=800, seed=2)
    res = CliRunner().invoke(app, ["calibrate", "--scores", str(tmp_path / "test.csv"),
                                   "--fit-temperature", "--logits-from", str(tmp_path / "val.csv"),
                                   "--save-temperature", str(tmp_path / "T.json"), "--json",
                                   str(tmp_path / "c.json")])
    assert res.exit_code == 0, res.output
    t = json.loads((tmp_path / "T.json").read_text())["temperature"]
    assert t == pytest.approx(3.0, rel=0.2)
    rows = json.loads((tmp_path / "c.json").read_text())["rows"]
    raw = next(r for r in rows if r["calibration"] == "raw")
    fitted = next(r for r in rows if r["calibration"] != "raw")
    assert fitted["nll"] < raw["nll"] and fitted["ece"] < raw["ece"]
    res = CliRunner().invoke(app, ["calibrate", "--scores", str(tmp_path / "test.csv"),
                                   "--temperature", str(tmp_path / "T.json"), "--json",
                                   str(tmp_path / "c2.json")])
    assert res.exit_code == 0, res.output
    again = json.loads((tmp_path / "c2.json").read_text())["rows"]
    applied = next(r for r in again if r["calibration"].endswith("(--temperature)"))
    assert applied["nll"] == pytest.approx(fitted["nll"])
    assert again[0]["calibration"] == "raw" and again[0]["nll"] == pytest.approx(raw["nll"])


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_fit_on_own_val_rows_reports_the_other_rows_and_never_applies_twice(tmp_path, capsys):
    val = _scores(tmp_path / "v.csv", n=1500, seed=3, split="val")
    test = _scores(tmp_path / "t.csv", n=600, seed=4, split="test")
    both = pd.concat([val, test], ignore_index=True)
    both.to_csv(tmp_path / "both.csv", index=False)
    res = CliRunner().invoke(app, ["calibrate", "--scores", str(tmp_path / "both.csv"),
                                   "--fit-temperature", "--save-temperature",
                                   str(tmp_path / "T.json"), "--json", str(tmp_path / "c.json")])
    assert res.exit_code == 0, res.output
    out = json.loads((tmp_path / "c.json").read_text())
    t = out["temperature"]
    assert out["n"] == 600 and out["n_fit"] == 1500 and "not in split=val" in out["evaluated_on"]
    y, z = test["label"].to_numpy(), test["logit_1"].to_numpy()
    rows = {r["calibration"]: r for r in out["rows"] if r["kind"] == "p_fake"
            and r["strategy"] == "uniform"}
    assert rows["raw"]["nll"] == pytest.approx(log_loss(y, _sigmoid(z)))  # test rows only
    assert rows[f"T={t:.3f} (fitted)"]["nll"] == pytest.approx(log_loss(y, _sigmoid(z / t)))
    # a saved temperature together with a new fit: each divides the raw logits once
    res = CliRunner().invoke(app, ["calibrate", "--scores", str(tmp_path / "both.csv"),
                                   "--fit-temperature", "--temperature", str(tmp_path / "T.json"),
                                   "--json", str(tmp_path / "c2.json")])
    assert res.exit_code == 0, res.output
    out2 = json.loads((tmp_path / "c2.json").read_text())
    assert out2["temperature"] == pytest.approx(t) and out2["applied_temperature"] == t
    for r in out2["rows"]:
        if r["kind"] == "p_fake" and r["strategy"] == "uniform" and r["calibration"] != "raw":
            assert r["nll"] == pytest.approx(log_loss(y, _sigmoid(z / t)))  # not z / t**2
    only_val = val.copy()
    only_val.to_csv(tmp_path / "val_only.csv", index=False)
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", "--scores", str(tmp_path / "val_only.csv"), "--fit-temperature"])
    assert exc.value.code == 2
    assert "nothing is left to evaluate" in capsys.readouterr().err


def test_calibrate_errors_exit_2(tmp_path, capsys):
    _scores(tmp_path / "s.csv")
    for argv in (["calibrate", "--scores", str(tmp_path / "missing.csv")],
                 ["calibrate", "--scores", str(tmp_path / "s.csv"), "--fit-temperature"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err
