"""SynthFaces renderer, attributes, benchmark builder and the `fakescope data synth` CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fakescope.cli.main import app, main
from fakescope.data.manifest import read_manifest, resolve_path
from fakescope.data.synthfaces import make_identities, render_face, sample_view, sensor
from fakescope.data.synthfaces.build import SynthConfig, build_benchmark, plan
from fakescope.data.synthfaces.traits import allocate
from fakescope.errors import ConfigError


def _render(i=0, seed=0, size=48, domain="studio"):
    ident = make_identities(3, seed=seed)[i]
    rng = np.random.default_rng([seed, i])
    view = sample_view(rng, domain)
    face = render_face(ident, view, size)
    return face, sensor(face.image, view.camera, rng)


def test_renderer_is_deterministic():
    (f1, a), (f2, b) = _render(1, 7), _render(1, 7)
    assert np.array_equal(a, b)
    assert np.array_equal(f1.landmarks, f2.landmarks) and np.array_equal(f1.face_mask, f2.face_mask)
    _, c = _render(1, 8)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("domain", ["studio", "phone"])
def test_landmarks_inside_face_mask_and_image(domain):
    for i in range(3):
        face, img = _render(i, 3, 64, domain)
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8
        lm = face.landmarks
        assert lm.shape == (68, 2)
        assert (lm >= 0).all() and (lm < 64).all()
        xy = np.round(lm).astype(int)
        assert (face.face_mask[xy[:, 1], xy[:, 0]] == 255).all()
        # the face mask is a plausible share of the crop, and the face is not background
        assert 0.12 < (face.face_mask > 0).mean() < 0.6


def test_landmarks_follow_iBUG_layout():
    face, _ = _render(0, 1, 96)
    lm = face.landmarks
    assert lm[8, 1] > lm[57, 1] > lm[33, 1] > lm[27, 1] > lm[19, 1]  # chin below mouth ...
    assert lm[36, 0] < lm[39, 0] < lm[42, 0] < lm[45, 0]  # eyes left to right
    assert lm[0, 0] < lm[30, 0] < lm[16, 0]


def test_domains_differ():
    studio = np.stack([_render(i, s, 48, "studio")[1] for i in range(3) for s in range(3)])
    phone = np.stack([_render(i, s, 48, "phone")[1] for i in range(3) for s in range(3)])
    # the camera stages differ: high-frequency energy (Laplacian) differs by > 30 %
    def hf(x):
        x = x.astype(float).mean(-1)
        return np.abs(4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1]
                      - x[:, 1:-1, :-2] - x[:, 1:-1, 2:]).mean()
    assert abs(np.log(hf(phone) / hf(studio))) > np.log(1.3)


def test_allocate_follows_proportions():
    labels = allocate(10, {"a": 0.5, "b": 0.3, "c": 0.2}, np.random.default_rng(0))
    assert sorted(labels) == ["a"] * 5 + ["b"] * 3 + ["c"] * 2
    with pytest.raises(ConfigError):
        allocate(4, {"a": -1.0}, np.random.default_rng(0))


def test_identity_attributes_follow_config():
    props = {"skin_tone": {"light": 0.7, "medium": 0.2, "dark": 0.1},
             "gender": {"male": 1.0, "female": 0.0}}
    ids = make_identities(50, seed=1, proportions=props)
    tones = [i.skin_tone for i in ids]
    assert tones.count("light") == 35 and tones.count("medium") == 10 and tones.count("dark") == 5
    assert all(i.gender == "male" for i in ids)
    ages = [i.age_group for i in ids]
    assert {ages.count(a) for a in ("young", "middle", "senior")} <= {16, 17}
    for i in ids:
        lo, hi = {"light": (1, 3), "medium": (4, 7), "dark": (8, 10)}[i.skin_tone]
        assert lo <= i.skin_tone_level <= hi
    with pytest.raises(ConfigError):
        make_identities(5, seed=0, proportions={"race": {"x": 1}})


def test_plan_splits_by_identity():
    cfg = SynthConfig(identities=20, images_per_identity=1).check()
    chunks = plan(cfg)
    seen = {}
    for c in chunks:
        for i in c["identities"]:
            assert i not in seen
            seen[i] = (c["domain"], c["split"])
    assert sorted(seen) == list(range(20))
    assert {s for _, s in seen.values()} == {"train", "val", "test"}
    assert {d for d, _ in seen.values()} == {"studio", "phone"}


def _digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_build_same_bytes_resume_and_manifest(tmp_path):
    kw = dict(identities=5, images_per_identity=2, size=32, seed=4,
              generators=["sbi", "reenact", "morph"])
    a = build_benchmark(tmp_path / "a", workers=1, **kw)
    build_benchmark(tmp_path / "b", workers=2, **kw)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert len(a) == 20 and a["label"].sum() == 10
    assert set(a.loc[a.label == 1, "source"]) == {"sbi", "reenact", "morph"}
    assert (a.loc[a.label == 0, "source"] == "real").all()
    # split by identity: no identity in two splits
    assert (a.groupby("identity")["split"].nunique() == 1).all()
    for col in ("domain", "skin_tone", "gender", "age_group", "mask_path", "landmarks_path"):
        assert a[col].astype(str).str.len().gt(0).all()
    row = a[a.label == 1].iloc[0]
    lm = np.load(resolve_path(a, row["landmarks_path"]))
    assert lm.shape == (68, 2)
    assert resolve_path(a, row["mask_path"]).is_file()
    # resume: delete one chunk's marker and one image, rebuild -> same bytes
    before = _digest(tmp_path / "a")
    marker = sorted((tmp_path / "a" / "rows").glob("*.json"))[0]
    lost = json.loads(marker.read_text())[1]["path"]  # an image of that chunk
    marker.unlink()
    (tmp_path / "a" / lost).unlink()
    (tmp_path / "a" / "manifest.csv").unlink()
    c = build_benchmark(tmp_path / "a", workers=1, **kw)
    assert _digest(tmp_path / "a") == before
    assert c.equals(a)
    with pytest.raises(ConfigError):
        build_benchmark(tmp_path / "a", workers=1, **{**kw, "seed": 5})


_BUILD = """
import sys
from fakescope.data.synthfaces.build import build_benchmark
if __name__ == "__main__":
    build_benchmark(sys.argv[1], identities=6, images_per_identity=2, size=64, seed=2,
                    workers=int(sys.argv[2]))
"""


def test_build_bytes_do_not_depend_on_thread_count(tmp_path):
    # Each build runs in a fresh process (a thread pool's size is fixed when a library first
    # starts it), one with every threaded library at 1 thread, one at 4 (other worker counts:
    # the test above); every generator runs. The bytes of every file must agree.
    import os
    import subprocess
    import sys

    script = tmp_path / "build.py"
    script.write_text(_BUILD)
    src = str(Path(__file__).resolve().parents[2] / "src")
    for name, threads, workers in (("one", "1", 1), ("four", "4", 1)):
        env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": threads,
               "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
               "OPENCV_FOR_THREADS_NUM": threads}
        subprocess.run([sys.executable, str(script), str(tmp_path / name), str(workers)],
                       env=env, check=True, timeout=300)
    one, four = _digest(tmp_path / "one"), _digest(tmp_path / "four")
    assert len(one) > 60 and one == four


def test_cli_synth_tiny_run_and_reuse(tmp_path):
    out = tmp_path / "synth"
    args = ["data", "synth", "--out", str(out), "--identities", "3", "--images-per-identity", "2",
            "--size", "32", "--workers", "1", "--generators", "gan_upsample,full_synthesis",
            "--domain", "phone", "--proportions", "gender=female:1,male:0"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "12 images (6 real, 6 fake)" in res.output
    df = read_manifest(out / "manifest.csv")
    assert set(df["domain"]) == {"phone"} and set(df["gender"]) == {"female"}
    mtime = (out / "manifest.csv").stat().st_mtime_ns
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0 and (out / "manifest.csv").stat().st_mtime_ns == mtime
    with pytest.raises(SystemExit) as exc:
        main(["data", "synth", "--out", str(tmp_path / "x"), "--generators", "nope"])
    assert exc.value.code == 2
