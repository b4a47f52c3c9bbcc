import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fakescope.cli.main import app, main
from fakescope.data.images import save_image
from fakescope.data.manifest import write_manifest
from fakescope.experiments.separability import StudyConfig, run_separability_study


def _tiny_manifest(tmp_path, n_id=12):
    """Real faces are smooth blobs; gen_a adds high-frequency noise, gen_b a colour cast."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:24, :24]
    rows = []
    for i in range(n_id):
        base = np.exp(-((yy - 12) ** 2 + (xx - 12) ** 2) / (40 + 4 * i))[..., None]
        face = (60 + 150 * base * rng.uniform(0.6, 1.0, 3)).clip(0, 255)
        variants = {"real": face,
                    "gen_a": face + rng.normal(0, 25, face.shape),
                    "gen_b": face * np.array([1.2, 0.8, 0.8])}
        for src, img in variants.items():
            p = tmp_path / "img" / f"{src}_{i}.png"
            save_image(p, img.clip(0, 255).astype(np.uint8))
            rows.append({"sample_id": f"{src}_{i}", "path": f"img/{p.name}",
                         "label": int(src != "real"), "source": src, "identity": f"id{i}"})
    return write_manifest(pd.DataFrame(rows), tmp_path / "manifest.csv")


@pytest.mark.slow
def test_tiny_study_end_to_end_and_cache(tmp_path):
    m = _tiny_manifest(tmp_path)
    cfg = StudyConfig(backbones=["fft", "lbp", "random:test_efficientnet"], per_class=8,
                      sep_per_source=10, finetune_epochs=1, batch_size=8, n_boot=10,
                      image_size=32, seed=0, device="cpu")
    out = tmp_path / "run"
    t = run_separability_study(m, out, cfg)
    sep, ft, corr = t["separability"], t["finetune"], t["correlation"]
    assert list(sep["backbone"]) == ["fft", "lbp", "random:test_efficientnet"]
    assert sep["ami_binary"].between(-1, 1).all() and sep["probe_auc"].between(0, 1).all()
    assert {"test_auc", "cross_generator_auc", "cross_auc_gen_a", "gap_train_val"} <= set(ft)
    assert ft.loc[ft["backbone"] == "fft", "mode"].item().startswith("linear head")
    assert ft.loc[ft["backbone"].str.startswith("random"), "mode"].item().startswith("fine")
    assert set(corr["fine_tuned"]) == {"test_auc", "cross_generator_auc"}
    assert (out / "report.html").is_file() and (out / "features" / "fft.npz").is_file()
    assert len(list((out / "figures").glob("separability_*.png"))) == 3
    # the noisy generator stands out in the spectrum: the fft probe must beat chance
    assert sep.loc[sep["backbone"] == "fft", "probe_auc"].item() > 0.7
    # second run reads the feature cache and gives identical tables
    mtime = (out / "features" / "lbp.npz").stat().st_mtime_ns
    cfg.backbones, cfg.cross_generator = ["lbp"], False
    again = run_separability_study(m, out, cfg)
    assert (out / "features" / "lbp.npz").stat().st_mtime_ns == mtime
    pd.testing.assert_frame_equal(again["separability"].reset_index(drop=True),
                                  sep[sep["backbone"] == "lbp"].reset_index(drop=True))


def test_cli_study_runs_and_rejects_unknown_backbone(tmp_path, capsys):
    m = _tiny_manifest(tmp_path, n_id=6)
    res = CliRunner().invoke(app, ["study", "separability", "--manifest", str(m), "--out",
                                   str(tmp_path / "o"), "--backbones", "fft", "--per-class", "4",
                                   "--n-boot", "5", "--no-cross-generator"])
    assert res.exit_code == 0, res.output
    assert "ami_binary" in res.output and "report:" in res.output
    with pytest.raises(SystemExit) as exc:
        main(["study", "separability", "--manifest", str(m), "--backbones", "nope"])
    assert exc.value.code == 2
    assert "unknown backbone" in capsys.readouterr().err


@pytest.mark.slow
def test_rerun_with_other_settings_is_refused_or_retrained(tmp_path, capsys):
    m = _tiny_manifest(tmp_path, n_id=6)
    cfg = StudyConfig(backbones=["random:test_efficientnet"], per_class=4, sep_per_source=5,
                      finetune_epochs=1, n_boot=5, image_size=32, cross_generator=False,
                      device="cpu")
    out = tmp_path / "run"
    first = run_separability_study(m, out, cfg)["finetune"]
    run_dir = out / "finetune" / "random_test_efficientnet" / "in_domain"
    assert json.loads((run_dir / "run.json").read_text())["finished"]
    # same settings: the fine-tuned run is reused, same numbers
    pd.testing.assert_frame_equal(run_separability_study(m, out, cfg)["finetune"], first)
    # other settings: refused with the difference (exit 2 from the CLI, no traceback) ...
    with pytest.raises(SystemExit) as exc:
        main(["study", "separability", "--manifest", str(m), "--out", str(out), "--backbones",
              "random:test_efficientnet", "--per-class", "4", "--sep-per-source", "5",
              "--finetune-epochs", "2", "--n-boot", "5", "--size", "32",
              "--no-cross-generator", "--device", "cpu"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "train.epochs: 1 -> 2" in err and "--retrain" in err and "Traceback" not in err
    # ... or trained again with --retrain
    run_separability_study(m, out, replace(cfg, finetune_epochs=2), retrain=True)
    assert json.loads((run_dir / "run.json").read_text())["settings"]["train"]["epochs"] == 2
