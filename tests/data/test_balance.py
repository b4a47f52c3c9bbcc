"""Synthetic group balancing: counts, sources from real training faces only, determinism."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from fakescope.data.balance import balance_manifest, load_landmarks, plan_balance
from fakescope.data.images import save_image
from fakescope.data.manifest import (
    read_manifest,
    resolve_path,
    validate_manifest,
    write_manifest,
)
from fakescope.errors import DataError


def _blend(image, landmarks, *, rng):
    """Stand-in generator: brightens a box around the landmarks by a random amount."""
    x0, y0 = landmarks.min(0).astype(int)
    x1, y1 = landmarks.max(0).astype(int)
    mask = np.zeros(image.shape[:2])
    mask[y0:y1, x0:x1] = 1.0
    fake = image.astype(float)
    fake[mask > 0] = fake[mask > 0] * 0.8 + 40 * rng.random()
    return np.clip(fake, 0, 255).astype(np.uint8), mask


def _manifest(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    # train: group a has 6 real / 6 fake, group b 2 real / 1 fake; val rows of b must not be used
    spec = [("a", 0, 6, "train"), ("a", 1, 6, "train"), ("b", 0, 2, "train"), ("b", 1, 1, "train"),
            ("b", 0, 3, "val"), ("a", 1, 2, "test")]
    lm = np.array([[4, 4], [12, 4], [8, 8], [5, 12], [11, 12]], float)
    np.save(tmp_path / "lm.npy", lm)
    k = 0
    for grp, label, n, split in spec:
        for _ in range(n):
            p = tmp_path / "img" / f"{k}.png"
            save_image(p, rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
            rows.append({"sample_id": f"s{k}", "path": f"img/{k}.png", "label": label,
                         "split": split, "skin": grp, "age": "young",
                         "landmarks_path": "lm.npy", "identity": f"id{k % 4}"})
            k += 1
    write_manifest(pd.DataFrame(rows), tmp_path / "m.csv")
    return read_manifest(tmp_path / "m.csv")


def test_plan_counts(tmp_path):
    m = _manifest(tmp_path)
    plan = plan_balance(m, group_cols=["skin", "age"])
    assert plan.target == 6
    c = plan.counts.set_index("group")
    assert c.loc["b*young", "add_fake"] == 5 and c.loc["b*young", "add_real"] == 4
    assert c.loc["a*young", "add_fake"] == 0
    keep = plan_balance(m, group_cols=["skin"], real_strategy="keep")
    assert keep.counts["add_real"].sum() == 0


def test_balance_writes_balanced_manifest_from_train_reals(tmp_path):
    m = _manifest(tmp_path)
    res = balance_manifest(m, tmp_path / "bal", group_cols=["skin"], generator=_blend, seed=3,
                           progress=False)
    ext = read_manifest(tmp_path / "bal" / "manifest.csv")
    train = ext[ext["split"] == "train"]
    counts = pd.crosstab(train["skin"], train["label"])
    assert (counts.to_numpy() == 6).all()
    new = ext[ext["source"] == "sbi"]
    assert len(new) == 5 and res.written == 5
    train_reals_b = set(m[(m["split"] == "train") & (m["label"] == 0) & (m["skin"] == "b")]
                        ["sample_id"])
    assert set(new["balance_origin"]) <= train_reals_b
    assert ext["video_id"].is_unique and ext["sample_id"].is_unique
    assert (ext[ext["split"] != "train"].shape[0]) == 5  # val/test untouched
    # determinism and resume: same seed -> same bytes; second run reuses the files
    first = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
             for p in (tmp_path / "bal" / "images").iterdir()}
    res2 = balance_manifest(m, tmp_path / "bal2", group_cols=["skin"], generator=_blend, seed=3,
                            progress=False)
    second = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
              for p in (tmp_path / "bal2" / "images").iterdir()}
    assert first == second and res2.written == 5
    res3 = balance_manifest(m, tmp_path / "bal", group_cols=["skin"], generator=_blend, seed=3,
                            progress=False)
    assert res3.reused == 5 and res3.written == 0


def test_relative_out_dir_gives_paths_that_resolve(tmp_path, monkeypatch):
    # `--out runs/fair` is relative: the manifest written there must not join it twice
    m = _manifest(tmp_path)
    monkeypatch.chdir(tmp_path)
    balance_manifest(m, "runs/fair/bal", group_cols=["skin"], generator=_blend,
                     progress=False)
    ext = read_manifest(tmp_path / "runs" / "fair" / "bal" / "manifest.csv")
    paths = [resolve_path(ext, p) for p in ext["path"]]
    assert (ext["source"] == "sbi").sum() == 5
    assert all(p.is_file() for p in paths), [p for p in paths if not p.is_file()][:2]
    masks = [resolve_path(ext, p) for p in ext.loc[ext["source"] == "sbi", "mask_path"]]
    assert all(p.is_file() for p in masks)


def test_bad_sources_are_skipped_and_recorded(tmp_path):
    m = _manifest(tmp_path)
    bad = m.index[(m["skin"] == "b") & (m["label"] == 0) & (m["split"] == "train")][0]
    (tmp_path / m.at[bad, "path"]).write_bytes(b"")
    res = balance_manifest(m, tmp_path / "bal", group_cols=["skin"], generator=_blend,
                           real_strategy="keep", progress=False)
    assert res.written == 5 and len(res.skipped) >= 1
    assert (tmp_path / "bal" / "skipped.csv").is_file()
    assert m.at[bad, "sample_id"] not in set(res.manifest.loc[res.manifest["source"] == "sbi",
                                                              "balance_origin"])


def test_errors(tmp_path):
    m = _manifest(tmp_path)
    with pytest.raises(DataError, match="no group column"):
        plan_balance(m, group_cols=["race"])
    no_lm = validate_manifest(m.drop(columns=["landmarks_path"]))
    with pytest.raises(DataError, match="landmarks_path"):
        balance_manifest(no_lm, tmp_path / "x", group_cols=["skin"], generator=_blend,
                         progress=False)
    (tmp_path / "bad.npy").write_bytes(b"nope")
    with pytest.raises(DataError, match="bad.npy"):
        load_landmarks(tmp_path / "bad.npy")


def test_real_sbi_on_synthfaces(tmp_path):
    from fakescope.data.synthfaces.build import build_benchmark

    m = build_benchmark(tmp_path / "sf", identities=6, images_per_identity=2, generators=("sbi",),
                        domains=("studio",), size=32, seed=2, splits=(1.0, 0.0, 0.0),
                        proportions={"skin_tone": {"light": 5, "dark": 1}})
    res = balance_manifest(m, tmp_path / "bal", group_cols=["skin_tone"], seed=0, progress=False)
    new = res.manifest[res.manifest["source"] == "sbi"].tail(res.plan.n_new_fakes)
    assert res.plan.n_new_fakes == 8 and res.written == 8
    counts = pd.crosstab(res.manifest["skin_tone"], res.manifest["label"])
    assert (counts.to_numpy() == 10).all()
    for _, row in new.iterrows():  # each SBI fake differs from its source face inside its mask
        from fakescope.data.images import load_image

        src = res.manifest.set_index("sample_id").loc[row["balance_origin"]]
        diff = np.abs(load_image(row["path"]).astype(int) - load_image(src["path"]).astype(int))
        mask = load_image(row["mask_path"])[..., 0] > 0
        assert mask.any() and diff[mask].mean() > diff[~mask].mean()
