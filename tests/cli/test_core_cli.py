import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from fakescope.cli.main import app, main

runner = CliRunner()


def _main_exit(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code, capsys.readouterr()


@pytest.mark.parametrize("command", ["train", "evaluate", "metrics", "detect"])
def test_help_has_example(command):
    res = runner.invoke(app, [command, "--help"])
    assert res.exit_code == 0 and "Example:" in res.output


def test_metrics_json_matches_sklearn(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(rng.random(200) * 0.7 + 0.3 * y, 0, 1)
    vids = np.arange(200) // 4
    pd.DataFrame({"label": y, "p_fake": p, "video_id": [f"v{v}_{y[i]}" for i, v in enumerate(vids)],
                  "source": np.where(y, "gan", "real")}).to_csv(tmp_path / "s.csv", index=False)
    res = runner.invoke(app, ["metrics", str(tmp_path / "s.csv"), "--json", str(tmp_path / "m.json"),
                              "--bootstrap", "50"])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["frame"]["auc"] == pytest.approx(roc_auc_score(y, p))
    lo, hi = m["frame"]["auc_ci"]
    assert lo <= m["frame"]["auc"] <= hi
    assert m["per_source_auc"]["gan"] == pytest.approx(roc_auc_score(y, p))
    assert m["video"]["n_videos"] == len(set(f"v{v}_{y[i]}" for i, v in enumerate(vids)))


def test_train_evaluate_detect_end_to_end(toy_manifest, tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{manifest: {toy_manifest}, image_size: 32}}\nmodel: {{name: tiny}}\n"
                   "train: {epochs: 1, batch_size: 16, progress: false}\n")
    res = runner.invoke(app, ["train", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()
    assert (tmp_path / "run" / "scores_test.csv").is_file()
    res = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "run" / "best"), "--manifest",
                              str(toy_manifest), "--out", str(tmp_path / "s.csv"), "--bootstrap", "20"])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(tmp_path / "s.csv")) == (pd.read_csv(toy_manifest)["split"] == "test").sum()
    img_dir = toy_manifest.parent / "img"
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n trunc")
    code, out = _main_exit(["detect", str(img_dir / "0000.png"), str(bad), "--model",
                            str(tmp_path / "run" / "best"), "--json", "--faces", "none"], capsys)
    assert code == 1
    results = json.loads(out.out)
    assert results[0]["path"].endswith("0000.png") and 0 <= results[0]["p_fake"] <= 1
    assert results[0]["verdict"] in ("real", "fake")
    assert "truncated" in results[1]["error"]


@pytest.mark.parametrize("args,fragment", [
    (["train", "/nonexistent/c.yaml"], "config file not found"),
    (["metrics", "/nonexistent/s.csv"], "scores file not found"),
    (["evaluate", "--model", "/nonexistent", "--manifest", "/x.csv"], "checkpoint not found"),
])
def test_bad_input_is_one_line_exit_2(args, fragment, capsys):
    code, out = _main_exit(args, capsys)
    assert code == 2
    assert fragment in out.err and "Traceback" not in out.err
    assert len(out.err.strip().splitlines()) == 1


def test_unknown_config_key(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("train: {epochz: 1}\n")
    code, out = _main_exit(["train", str(cfg)], capsys)
    assert code == 2 and "unknown key 'train.epochz'" in out.err and str(cfg) in out.err


def test_detect_video_whole_frames_and_no_face(toy_checkpoint, tmp_path, capsys):
    from fakescope.data.video import write_video

    rng = np.random.default_rng(0)
    clip = write_video(tmp_path / "clip.avi",
                       [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(12)])
    ckpt = str(toy_checkpoint / "best")
    res = runner.invoke(app, ["detect", str(clip), "--model", ckpt, "--json", "--frames", "4",
                              "--faces", "none"])
    assert res.exit_code == 0, res.output
    [r] = json.loads(res.stdout)
    assert r["kind"] == "video" and len(r["frames"]) == 4
    assert r["p_fake"] == pytest.approx(np.mean([f["p_fake"] for f in r["frames"]]))
    code, out = _main_exit(["detect", str(clip), "--model", ckpt, "--json", "--frames", "2"], capsys)
    assert code == 2 and "no face found" in json.loads(out.out)[0]["error"]


def test_detect_uncertainty_mc_and_ensemble(toy_checkpoint, toy_manifest, tmp_path, capsys):
    img = str(toy_manifest.parent / "img" / "0001.png")
    best, last = str(toy_checkpoint / "best"), str(toy_checkpoint / "last")
    res = runner.invoke(app, ["detect", img, "--model", best, "--json", "--uncertainty", "mc",
                              "--samples", "8", "--map", str(tmp_path / "maps"), "--faces",
                              "none"])
    assert res.exit_code == 0, res.output
    [r] = json.loads(res.stdout)
    u = r["uncertainty"]
    assert set(u) == {"total", "aleatoric", "epistemic", "variance"}
    assert u["total"] == pytest.approx(u["aleatoric"] + u["epistemic"], abs=1e-6)
    assert all((tmp_path / "maps").glob("*_uncertainty.png"))
    res = runner.invoke(app, ["detect", img, "--model", best, "--model", last, "--json",
                              "--uncertainty", "ensemble", "--faces", "none"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["uncertainty"]["epistemic"] >= 0
    code, out = _main_exit(["detect", img, "--model", best, "--uncertainty", "ensemble"], capsys)
    assert code == 2 and "two or more --model" in out.err


def test_train_refuses_a_run_with_other_settings_and_retrains_when_asked(toy_manifest, tmp_path,
                                                                          capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{manifest: {toy_manifest}, image_size: 32}}\nmodel: {{name: tiny}}\n"
                   "train: {epochs: 1, batch_size: 16, progress: false}\n")
    args = ["train", str(cfg), "--out", str(tmp_path / "run")]
    assert runner.invoke(app, args).exit_code == 0
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and "reusing" in res.output
    code, out = _main_exit([*args, "--set", "train.epochs=2"], capsys)
    assert code == 2 and "train.epochs: 1 -> 2" in out.err and "Traceback" not in out.err
    res = runner.invoke(app, [*args, "--set", "train.epochs=2", "--retrain"])
    assert res.exit_code == 0, res.output
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(hist) == 2
