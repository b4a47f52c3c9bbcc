import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from fakescope.config import load_config
from fakescope.data.manifest import read_manifest, select_split, write_manifest
from fakescope.errors import DataError
from fakescope.models.checkpoint import load_detector
from fakescope.train.engine import TrainingInterrupted
from fakescope.train.recipe import build_datasets, build_model
from fakescope.train.run import fit_or_reuse, score


def _cfg(manifest, *extra):
    return load_config(None, [f"data.manifest={manifest}", "data.image_size=32", "model.name=tiny",
                              "model.dropout=0.2", "train.epochs=2", "train.batch_size=16",
                              "optim.lr=0.003", "train.progress=false", *extra])


def test_fit_learns_and_selects_on_validation(toy_checkpoint):
    hist = pd.read_csv(toy_checkpoint / "metrics.csv")
    assert list(hist["epoch"]) == [1, 2]
    assert {"train_loss", "val_auc", "val_loss", "lr"} <= set(hist.columns)
    _, meta = load_detector(toy_checkpoint / "best")
    assert meta["selected_on"].startswith("val")
    assert meta["metrics"]["val_auc"] == hist["val_auc"].max()
    assert hist["val_auc"].max() > 0.8  # the toy task is learnable in two epochs


def test_scores_table_columns(toy_manifest, toy_checkpoint, tmp_path):
    from fakescope.train.engine import Engine

    cfg = _cfg(toy_manifest)
    data = build_datasets(cfg)
    model, _ = load_detector(toy_checkpoint / "best")
    scores = Engine(model, cfg, tmp_path).predict(data.test)
    assert {"sample_id", "label", "p_fake", "logit_0", "logit_1", "source", "video_id",
            "gender"} <= set(scores.columns)
    probs = torch.softmax(torch.tensor(scores[["logit_0", "logit_1"]].to_numpy()), -1)
    np.testing.assert_allclose(scores["p_fake"], probs[:, 1].numpy(), atol=1e-6)


@pytest.mark.parametrize("sampler", ["shuffle", "paired"])
def test_resume_after_interruption_matches_uninterrupted(toy_manifest, tmp_path, sampler):
    from functools import partial

    from fakescope.train import run as run_step
    from fakescope.train.engine import Engine

    cfg = _cfg(toy_manifest, "train.save_every_steps=2", f"data.sampler={sampler}")
    full = fit_or_reuse(cfg, None, tmp_path / "full")
    with pytest.MonkeyPatch.context() as mp, pytest.raises(TrainingInterrupted):
        # killed mid-epoch 2 (4 steps per epoch)
        mp.setattr(run_step, "Engine", partial(Engine, stop_after_steps=7))
        fit_or_reuse(cfg, None, tmp_path / "cut")
    state = torch.load(tmp_path / "cut" / "last" / "state.pt", weights_only=True)
    assert (state["epoch"], state["step"]) == (1, 2)
    resumed = fit_or_reuse(cfg, None, tmp_path / "cut")
    assert not resumed.reused
    a, _ = load_detector(tmp_path / "full" / "last")
    b, _ = load_detector(tmp_path / "cut" / "last")
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.allclose(va, vb, atol=1e-6), k
    assert resumed.history == full.history


def test_sam_and_multiclass(toy_manifest, tmp_path):
    cfg = _cfg(toy_manifest, "optim.sam=true", "optim.name=sgd", "optim.lr=0.05",
               "data.target=multiclass", "train.epochs=1")
    run = fit_or_reuse(cfg, None, tmp_path)
    assert run.model.class_names == ["real", "corner", "square"]
    scores = score(run, select_split(read_manifest(toy_manifest), "test"))
    assert {"logit_2", "pred"} <= set(scores.columns)
    assert np.isfinite(run.best_metric)


def _with_bad_train_rows(toy_manifest, tmp_path, n_corrupt: int, n_missing: int = 0):
    df = read_manifest(toy_manifest)
    df["path"] = [str(toy_manifest.parent / p) for p in df["path"]]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"junk")
    train = np.flatnonzero(df["split"].to_numpy() == "train")
    df.loc[train[:n_corrupt], "path"] = str(bad)
    df.loc[train[n_corrupt:n_corrupt + n_missing], "path"] = str(tmp_path / "gone.png")
    return write_manifest(df, tmp_path / "m.csv"), len(train)


def test_bad_images_are_skipped_and_listed_within_the_allowed_share(toy_manifest, tmp_path):
    manifest, n_train = _with_bad_train_rows(toy_manifest, tmp_path, 1)
    cfg = _cfg(manifest, "train.epochs=1", "data.max_unreadable=0.05")
    fit_or_reuse(cfg, None, tmp_path / "run")
    skipped = pd.read_csv(tmp_path / "run" / "skipped.csv")
    assert len(skipped) == 1 and "not a readable image" in skipped["error"][0]
    assert 1 / n_train > 0.01  # so the default share refuses the same rows:
    with pytest.raises(DataError, match=r"1 of \d+ training rows .* cannot be read, more than "
                       r"data.max_unreadable = 1.0%") as err:
        fit_or_reuse(_cfg(manifest, "train.epochs=1"), None, tmp_path / "strict")
    assert "skipped.csv" in str(err.value)
    assert len(pd.read_csv(tmp_path / "strict" / "skipped.csv")) == 1


def test_missing_files_are_refused_before_training(toy_manifest, tmp_path):
    # e.g. paths joined twice: every file is missing, nothing may train on what is left
    manifest, _ = _with_bad_train_rows(toy_manifest, tmp_path, 0, n_missing=3)
    with pytest.raises(DataError, match=r"3 of \d+ training rows .*gone.png: file not found"):
        fit_or_reuse(_cfg(manifest), None, tmp_path / "run")
    assert not (tmp_path / "run" / "best").exists()  # refused before the first step
    listed = pd.read_csv(tmp_path / "run" / "skipped.csv")
    assert len(listed) == 3 and listed["path"].str.endswith("gone.png").all()
    with pytest.raises(Exception, match="max_unreadable"):
        _cfg(manifest, "data.max_unreadable=1.5")


def test_empty_validation_split_is_an_error(toy_manifest, tmp_path):
    df = read_manifest(toy_manifest)
    # absolute paths: written elsewhere, the relative ones would name no file (and the run step
    # would refuse that before it reaches the empty split)
    df["path"] = [str(toy_manifest.parent / p) for p in df["path"]]
    df = df[df["split"] != "val"]
    cfg = _cfg(write_manifest(df, tmp_path / "m.csv"))
    with pytest.raises(DataError, match="'val' split is empty"):
        fit_or_reuse(cfg, None, tmp_path / "run")


@pytest.mark.slow
def test_torchrun_two_processes_matches_one(toy_manifest, tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(f"data: {{manifest: {toy_manifest}, image_size: 32}}\n"
                        "model: {name: tiny, dropout: 0.0}\noptim: {lr: 0.003}\n"
                        "train: {epochs: 2, batch_size: 16, progress: false}\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_port", "29517"]
    for cmd, out in ((torchrun, "ddp"), ([sys.executable], "single")):
        subprocess.run([*cmd, "-m", "fakescope.cli.main", "train", str(cfg_file), "--out",
                        str(tmp_path / out)], check=True, env=env, capture_output=True, timeout=300)
    one = json.loads((tmp_path / "single" / "history.json").read_text())
    two = json.loads((tmp_path / "ddp" / "history.json").read_text())
    assert len(one) == len(two) == 2
    # same global batch and data order: validation metrics agree within noise
    assert abs(one[-1]["val_auc"] - two[-1]["val_auc"]) < 0.1
    assert abs(one[-1]["val_loss"] - two[-1]["val_loss"]) < 0.15


@pytest.mark.slow
def test_process_killed_mid_epoch_resumes_from_checkpoint(toy_manifest, tmp_path):
    import signal
    import time

    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(f"data: {{manifest: {toy_manifest}, image_size: 32}}\n"
                        "model: {name: tiny}\n"
                        "train: {epochs: 3, batch_size: 8, save_every_steps: 2, progress: false}\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "fakescope.cli.main", "train", str(cfg_file), "--out",
           str(tmp_path / "run")]
    state = tmp_path / "run" / "last" / "state.pt"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if state.is_file() and torch.load(state, weights_only=True)["step"] > 0:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = torch.load(state, weights_only=True)
    assert saved["step"] > 0, "the kill should land mid-epoch, after a mid-epoch checkpoint"
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    hist = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert list(hist["epoch"]) == [1, 2, 3]
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()


def test_amp_dtype_follows_the_hardware(monkeypatch):
    from fakescope.train import engine

    cpu = torch.device("cpu")
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, name, lambda: False, raising=False)
    assert engine.amp_dtype(cpu) is None  # emulated bf16 is slower than fp32
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert engine.amp_dtype(cpu) is torch.bfloat16


def test_channels_last_and_amp_predict_like_fp32(toy_manifest, toy_checkpoint, tmp_path):
    """The fast path (bf16 autocast where native, NHWC layout) gives the fp32 scores up to bf16
    rounding, and a model trained with it saves and reloads like any other."""
    from fakescope.train.engine import Engine

    data = build_datasets(_cfg(toy_manifest))
    scores = {}
    for fast in (False, True):
        cfg = _cfg(toy_manifest, f"train.amp={fast}", f"train.channels_last={fast}")
        model, _ = load_detector(toy_checkpoint / "best")
        eng = Engine(model, cfg, tmp_path / str(fast))
        if fast:
            w = next(p for p in eng.model.parameters() if p.ndim == 4)
            assert w.is_contiguous(memory_format=torch.channels_last)
        scores[fast] = eng.predict(data.test)["p_fake"].to_numpy()
    np.testing.assert_allclose(scores[True], scores[False], atol=0.03)
    cfg = _cfg(toy_manifest, "train.epochs=1", "train.channels_last=true")
    run = fit_or_reuse(cfg, None, tmp_path / "trained")
    again, _ = load_detector(tmp_path / "trained" / "best")
    assert run.best_epoch == 1  # one epoch: best is the engine's final model
    for (k, va), vb in zip(run.model.state_dict().items(), again.state_dict().values(),
                           strict=True):
        assert torch.equal(va, vb), k


def test_resume_with_other_settings_is_refused(toy_manifest, tmp_path):
    from fakescope.errors import ConfigError
    from fakescope.train.engine import Engine
    from fakescope.train.resume import resume_conflicts

    cfg = _cfg(toy_manifest, "train.epochs=1")
    fit_or_reuse(cfg, None, tmp_path)
    assert resume_conflicts(tmp_path, _cfg(toy_manifest, "train.epochs=1",
                                           "train.progress=true", "train.eval_batch_size=7")) == []
    longer = _cfg(toy_manifest, "train.epochs=2", "optim.lr=0.01")
    assert resume_conflicts(tmp_path, longer) == ["optim.lr: 0.003 -> 0.01",
                                                  "train.epochs: 1 -> 2"]
    with pytest.raises(ConfigError, match="other settings.*train.epochs: 1 -> 2"):
        fit_or_reuse(longer, None, tmp_path)
    with pytest.raises(ConfigError, match="other settings.*train.epochs: 1 -> 2"):
        data = build_datasets(longer)  # the engine itself refuses too, under the run step
        Engine(build_model(longer, data.class_names), longer, tmp_path).fit(data.train, data.val)
    restart = _cfg(toy_manifest, "train.epochs=2", "optim.lr=0.01", "train.resume=false")
    data = build_datasets(restart)
    result = Engine(build_model(restart, data.class_names), restart, tmp_path).fit(data.train,
                                                                                 data.val)
    assert len(result.history) == 2  # started over
