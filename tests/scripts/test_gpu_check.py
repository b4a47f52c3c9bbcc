"""scripts/gpu_check.sh on a machine without CUDA: its arguments, its plan, and a clean skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.sh"
STEPS = ["data", "train_bf16", "train_fp16", "evaluate", "mc", "mc_head", "detect", "ray", "nccl"]


def _run(*args, **env):
    full = {**os.environ, "PYTHON": sys.executable, **env}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env=full, timeout=120)


def test_help_lists_every_step():
    res = _run("--help")
    assert res.returncode == 0
    for step in STEPS:
        assert f"  {step} " in res.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--frobnicate"], "unknown argument '--frobnicate'"),
    (["--steps", "data,warp"], "unknown step 'warp'"),
    (["--epochs", "two"], "'two' is not a whole number"),
    (["--out"], "--out needs a value"),
])
def test_usage_errors_exit_2(args, message):
    res = _run(*args)
    assert res.returncode == 2 and message in res.stderr


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    out = tmp_path / "gpu"
    res = _run("--dry-run", "--out", str(out), "--steps", "data,train_fp16,mc_head,nccl")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["data", "train_fp16", "mc_head", "nccl"]
    assert "--uncertainty mc_head --samples 16" in lines[2]
    assert "--nproc_per_node 2" in lines[3] and "torch.distributed.run" in lines[3]
    assert not out.exists()


def test_without_cuda_it_skips_cleanly(tmp_path):
    res = _run("--out", str(tmp_path / "gpu"), CUDA_VISIBLE_DEVICES="")
    assert res.returncode == 0, res.stderr
    assert "no CUDA device here" in res.stdout and "GPU checks skipped" in res.stdout
    assert not (tmp_path / "gpu").exists()
    assert _run("--require-gpu", CUDA_VISIBLE_DEVICES="").returncode == 3
