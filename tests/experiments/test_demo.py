import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from fakescope.cli.main import app


@pytest.mark.slow
def test_quick_demo_writes_report_with_every_setting(tmp_path):
    out = tmp_path / "demo"
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "report:" in res.output
    assert {"benchmark", "detection", "uncertainty", "fairness", "video_clips",
            "video_heart_rate", "video_controls"} <= set(
        json.loads((out / "report.json").read_text()))
    controls = pd.read_csv(out / "tables" / "video_controls.csv")
    assert set(controls["control"]) == {"heart_rate", "frame_difference"}
    assert (out / "figures" / "video_pulses.png").stat().st_size > 10_000
    video = json.loads((out / "report.json").read_text())
    assert {"video_detectors", "video_calibration", "video_maps"} <= set(video)
    assert set(video["video_detectors"]["numbers"]["detectors"]) == {"ppg_map", "motion_map",
                                                                     "tiny"}
    for det in ("ppg_map", "motion_map", "tiny"):
        clip_scores = pd.read_csv(out / "tables" / f"video_scores_{det}.csv")
        assert clip_scores["p_fake"].between(0, 1).all() and len(clip_scores) == 18
    assert (out / "figures" / "video_maps" / "video_example_maps.png").is_file()
    cal = pd.read_csv(out / "tables" / "uncertainty__calibration.csv")
    assert cal["ece"].between(0, 1).all()
    html = (out / "report.html").read_text()
    assert "SynthFaces benchmark" in html and "cross-generator" in html
    assert html.count("data:image/png;base64") >= 4
    numbers = json.loads((out / "report.json").read_text())
    settings = {r["setting"] for r in numbers["detection"]["numbers"]["metrics"]}
    assert settings == {"in-domain", "cross-generator", "cross-domain"}
    metrics = pd.read_csv(out / "tables" / "detection__metrics.csv")
    assert metrics["auc"].between(0, 1).all()
    assert (metrics["auc_lo"] <= metrics["auc"]).all() and (metrics["auc"] <= metrics["auc_hi"]).all()
    scores = pd.read_csv(out / "scores" / "tiny_test.csv")
    assert {"p_fake", "domain", "source", "skin_tone"} <= set(scores.columns)
    # a re-run reuses the benchmark and the finished training
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out), "--workers", "1",
                                   "--analyses", "none", "--no-video"])
    assert res.exit_code == 0, res.output
    assert pd.read_csv(out / "scores" / "tiny_test.csv")["p_fake"].equals(scores["p_fake"])
    # a benchmark from another fakescope version is rebuilt, and its training redone
    cfg_path = out / "benchmark" / "synth_config.json"
    cfg_path.write_text(cfg_path.read_text().replace('"synth_version": ', '"synth_version": -'))
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out), "--workers", "1",
                                   "--analyses", "none", "--no-video"])
    assert res.exit_code == 0, res.output
    assert "rebuilding" in res.output
    assert '"synth_version": -' not in cfg_path.read_text()
    assert (out / "scores" / "tiny_test.csv").exists()
    # a model folder trained with other settings (an older demo's epochs) is retrained
    record_path = out / "models" / "tiny" / "run.json"
    record = json.loads(record_path.read_text())
    record["settings"]["train"]["epochs"] = 99
    record_path.write_text(json.dumps(record))
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out), "--workers", "1",
                                   "--analyses", "none", "--no-video"])
    assert res.exit_code == 0, res.output
    assert "retraining" in res.output
    assert json.loads(record_path.read_text())["settings"]["train"]["epochs"] == 1
    meta_path = out / "models" / "tiny" / "last" / "meta.json"
    assert json.loads(meta_path.read_text())["training"]["train"]["epochs"] == 1
    # so is one made before the run step (no run.json)
    record_path.unlink()
    res = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out), "--workers", "1",
                                   "--analyses", "none", "--no-video"])
    assert res.exit_code == 0, res.output
    assert "no run.json" in res.output and "retraining" in res.output
    assert (out / "models" / "tiny" / "run.json").is_file()
