import json

import numpy as np
import pandas as pd
import pytest

from fakescope.cli.main import main
from fakescope.data.images import save_image
from fakescope.data.manifest import read_manifest, write_manifest
from fakescope.errors import ConfigError, DataError
from fakescope.experiments.uncertainty import (
    UncertaintyStudyConfig,
    run_uncertainty_study,
    subsample,
)


def _manifest(root, per=4, size=32):
    """Reals are smooth noise; 'gan' adds a noisy square, 'swap' a colour cast in the lower half."""
    rng = np.random.default_rng(0)
    rows = []
    for split in ("train", "val", "test"):
        for source in ("real", "gan", "swap"):
            for k in range(per):
                img = rng.integers(60, 200, (size, size, 3)).astype(np.float64)
                img = (img + np.roll(img, 1, 0) + np.roll(img, 1, 1)) / 3
                mask = np.zeros((size, size, 3), np.uint8)
                if source == "gan":
                    a, b = size // 4, 3 * size // 4
                    img[a:b, a:b] += rng.normal(0, 40, (b - a, b - a, 3))
                    mask[a:b, a:b] = 255
                elif source == "swap":
                    img[size // 2:, :, 0] += 50
                    mask[size // 2:] = 255
                sid = f"{split}_{source}_{k}"
                save_image(root / "img" / f"{sid}.png", np.clip(img, 0, 255).astype(np.uint8))
                row = {"sample_id": sid, "path": f"img/{sid}.png", "label": int(source != "real"),
                       "source": source, "split": split, "video_id": sid, "mask_path": ""}
                if source != "real":
                    save_image(root / "mask" / f"{sid}.png", mask)
                    row["mask_path"] = f"mask/{sid}.png"
                rows.append(row)
    write_manifest(pd.DataFrame(rows), root / "manifest.csv")
    return root / "manifest.csv"


def test_subsample_balances_classes_and_generators(tmp_path):
    df = read_manifest(_manifest(tmp_path, per=3, size=16))
    sub = subsample(df, 4, seed=0)
    counts = sub.groupby(["split", "source"]).size()
    assert counts.xs("real", level="source").eq(3).all()  # only 3 reals per split
    assert counts.xs("gan", level="source").eq(2).all() and counts.xs("swap", level="source").eq(2).all()
    assert sub.equals(subsample(df, 4, seed=0))
    assert sub.attrs["root"] == df.attrs["root"]


@pytest.mark.slow
def test_tiny_study_end_to_end(tmp_path):
    m = _manifest(tmp_path)
    cfg = UncertaintyStudyConfig(detectors=["tiny"], epochs=1, image_size=32, samples=3,
                                 ensemble_size=2, robustness_images=8, map_images=4,
                                 max_per_class=0,
                                 batch_size=8, device="cpu")
    res = run_uncertainty_study(m, tmp_path / "out", cfg)
    t = res.tables
    assert set(t["summary"]["method"]) == {"mc", "mc_head", "bnn", "ensemble", "tta"}
    s = t["summary"]
    assert s["auc"].between(0, 1).all() and (s["epistemic"] >= 0).all()
    assert (s["total"] <= np.log(2) + 1e-9).all()
    assert set(t["per_generator"]["generator"]) == {"gan", "swap"}
    assert set(t["logo"]["generator"]) == {"gan", "swap"}
    feats = set(t["source_attribution"]["features"])
    assert "uncertainty (all detectors)" in feats and "penultimate (all detectors)" in feats
    assert any(f.startswith("end-to-end") for f in feats)
    assert {"fgsm", "pgd", "jpeg"} <= set(t["robustness"]["kind"])
    assert "auc_saliency_variance" in t["localisation"].columns
    assert t["calibration"]["temperature"].gt(0).all()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert "uncertainty" in report
    assert (tmp_path / "out" / "report.html").is_file()
    assert any(p.name.startswith("heatmap_auc") for p in res.figures)
    scores = pd.read_csv(tmp_path / "out" / "scores" / "tiny__mc_head.csv")
    assert {"unc_total", "unc_aleatoric", "unc_epistemic", "unc_variance"} <= set(scores.columns)
    # a second run reuses the finished training runs and gives the same numbers
    again = run_uncertainty_study(m, tmp_path / "out", cfg)
    pd.testing.assert_frame_equal(again.tables["summary"].drop(columns="ms_per_image"),
                                  s.drop(columns="ms_per_image"))
    # the scores file feeds `fakescope calibrate`
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", "--scores", str(tmp_path / "out" / "scores" / "tiny__mc.csv")])
    assert exc.value.code == 0


def test_study_rejects_bad_input(tmp_path):
    m = _manifest(tmp_path, per=2, size=16)
    with pytest.raises(ConfigError):
        run_uncertainty_study(m, tmp_path / "o", UncertaintyStudyConfig(methods=["magic"]))
    with pytest.raises(ConfigError):
        run_uncertainty_study(m, tmp_path / "o", UncertaintyStudyConfig(detectors=["nope"]))
    df = read_manifest(m)
    write_manifest(df[df["split"] != "val"], tmp_path / "noval.csv")
    with pytest.raises(SystemExit) as exc:
        main(["study", "uncertainty", "--manifest", str(tmp_path / "noval.csv"), "--out",
              str(tmp_path / "o"), "--detectors", "tiny"])
    assert exc.value.code == 2
    with pytest.raises(DataError):
        run_uncertainty_study(tmp_path / "missing.csv", tmp_path / "o")


def test_rerun_with_other_settings_is_refused_or_retrained(tmp_path, capsys, monkeypatch):
    from fakescope.cli.output import console

    # rich wraps long lines mid-word at the terminal's width (a long tmp path splits a word)
    monkeypatch.setattr(console, "width", 1000)
    m = _manifest(tmp_path, per=2, size=16)
    out = tmp_path / "o"
    args = ["study", "uncertainty", "--manifest", str(m), "--out", str(out), "--detectors",
            "tiny", "--methods", "mc_head,bnn", "--experiments", "binary", "--size", "16",
            "--samples", "2", "--max-per-class", "0", "--device", "cpu"]

    def cli(*extra):
        with pytest.raises(SystemExit) as exc:
            main([*args, *extra])
        return exc.value.code

    assert cli("--epochs", "1") == 0
    summary = out / "tables" / "uncertainty__summary.csv"
    first = summary.read_text()
    capsys.readouterr()
    # other --epochs: refused in one line, nothing reported
    assert cli("--epochs", "2") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "train.epochs: 1 -> 2" in err and "--retrain" in err
    assert summary.read_text() == first
    # --retrain trains the binary run again; the BNN is fine-tuned again exactly when the
    # binary run's best weights changed (validation may pick epoch 1 again)
    weights = out / "runs" / "tiny" / "binary" / "best" / "model.safetensors"
    before = weights.read_bytes()
    assert cli("--epochs", "2", "--retrain") == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "binary: other settings or rows" in printed
    changed = weights.read_bytes() != before
    assert ("bnn: fine-tuned from another training" in printed) == changed
    record = json.loads((out / "runs" / "tiny" / "binary" / "run.json").read_text())
    assert record["settings"]["train"]["epochs"] == 2
    progress = json.loads((out / "progress.json").read_text())
    assert progress["key"]["settings"]["epochs"] == 2
    # the same settings again: every run and the saved results are reused
    assert cli("--epochs", "2") == 0
    assert "reusing the finished run" in capsys.readouterr().out
