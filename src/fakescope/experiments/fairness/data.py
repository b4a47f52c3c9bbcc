"""The study's data: a biased train/val pool and balanced test sets (one manifest), and the
SBI-balanced copy of it that the ``synthetic`` method trains on.

Layout under the study folder ``OUT``::

    data/train, data/test_a, data/test_b   three SynthFaces builds (studio, studio, phone)
    data/manifest.csv                      their rows, ids prefixed with the build's name
    data/balanced/manifest.csv             + SBI fakes and repeated reals that balance the
                                           (skin_tone x age_group, label) counts of train
    data/settings.json                     the data settings the files were built with

The files are reused only when ``data/settings.json`` matches the study's data settings;
otherwise the study refuses (ConfigError naming each difference) or, with ``retrain``,
deletes ``data/`` and builds it again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from fakescope.data.balance import balance_manifest
from fakescope.data.manifest import read_manifest, write_manifest
from fakescope.experiments.fairness.config import GROUP_COLS, GROUP_COLUMN, StudyConfig
from fakescope.metrics.fairness import group_key
from fakescope.train.run import changed_settings, refuse_unless_retrain

SETTINGS = "settings.json"


def data_settings(cfg: StudyConfig) -> dict[str, Any]:
    """What the study's data depends on (and nothing else)."""
    return {"identities": cfg.identities, "test_identities": cfg.n_test_identities,
            "images_per_identity": cfg.images_per_identity, "generators": list(cfg.generators),
            "size": cfg.size, "seed": cfg.seed, "bias": cfg.bias,
            "val_fraction": cfg.val_fraction}


def check_data(out: Path, cfg: StudyConfig, *, retrain: bool = False) -> None:
    """Refuse study data in ``out/data`` built with other settings, or delete it (``retrain``)."""
    folder = out / "data"
    if not (folder / "manifest.csv").is_file():
        return
    want = json.loads(json.dumps(data_settings(cfg)))  # as it reads back from JSON
    path = folder / SETTINGS
    have = json.loads(path.read_text()) if path.is_file() else None
    if have == want:
        return
    diffs = changed_settings(have, want, record=SETTINGS)
    refuse_unless_retrain(folder, "study data built with other settings", diffs,
                          retrain=retrain, hint="use another --out, or --retrain, which "
                          "rebuilds the data and retrains every method")
    shutil.rmtree(folder)


def _synth(out: Path, *, identities: int, images_per_identity: int, generators: list[str],
           domain: str, proportions: dict | None, size: int, seed: int,
           splits: tuple[float, float, float]) -> pd.DataFrame:
    """One SynthFaces build (reals + one fake per real) in ``out``; returns its manifest."""
    from fakescope.data.synthfaces.build import build_benchmark

    return build_benchmark(out, identities=identities, images_per_identity=images_per_identity,
                           generators=tuple(generators), domains=(domain,), size=size, seed=seed,
                           proportions=proportions, splits=splits)


def build_study_data(out: Path, cfg: StudyConfig, *, synth=None,
                     retrain: bool = False) -> pd.DataFrame:
    """Biased domain-A train/val + balanced test sets in domains A and B, one manifest.

    Rows carry ``domain``, ``eval_set`` (train, test_a, test_b) and ``fair_group``
    (skin_tone*age_group); paths are absolute. ``synth`` replaces the SynthFaces build (same
    keywords as :func:`_synth`; tests use it).
    """
    check_data(out, cfg, retrain=retrain)
    path = out / "data" / "manifest.csv"
    if path.is_file():
        return read_manifest(path)
    synth = synth or _synth
    parts = []
    trainval = (1.0 - cfg.val_fraction, cfg.val_fraction, 0.0)
    n_test = cfg.n_test_identities
    specs = (("train", "studio", cfg.identities, cfg.bias, trainval, 0),
             ("test_a", "studio", n_test, None, (0.0, 0.0, 1.0), 1),
             ("test_b", "phone", n_test, None, (0.0, 0.0, 1.0), 2))
    for name, domain, n_id, props, splits, k in specs:
        df = synth(out / "data" / name, identities=n_id,
                   images_per_identity=cfg.images_per_identity, generators=cfg.generators,
                   domain=domain, proportions=props, size=cfg.size,
                   seed=cfg.seed * 1000 + 17 + k, splits=splits).copy()
        root = df.attrs.get("root", str(out / "data" / name))
        for col in ("path", "mask_path", "landmarks_path", "face_mask_path"):
            if col in df.columns:
                df[col] = [str(Path(root) / p) if isinstance(p, str) and p and
                           not Path(p).is_absolute() else p for p in df[col]]
        for col in ("sample_id", "video_id", "identity"):
            df[col] = f"{name}/" + df[col].astype(str)
        df["domain"] = domain
        df["eval_set"] = name
        parts.append(df)
    manifest = pd.concat(parts, ignore_index=True)
    manifest[GROUP_COLUMN] = group_key(manifest, list(GROUP_COLS))
    write_manifest(manifest, path)
    (out / "data" / SETTINGS).write_text(json.dumps(data_settings(cfg), indent=2))
    return read_manifest(path)


def balanced_manifest(out: Path, manifest: pd.DataFrame, cfg: StudyConfig, *,
                      generator=None) -> pd.DataFrame:
    """``manifest`` plus the SBI fakes (and repeated reals) that balance the (group, label)
    counts of its train split (:func:`fakescope.data.balance.balance_manifest`); built once in
    ``out/data/balanced``. ``generator`` replaces the SBI generator (tests only)."""
    path = out / "data" / "balanced" / "manifest.csv"
    if path.is_file():
        return read_manifest(path)
    res = balance_manifest(manifest, out / "data" / "balanced", group_cols=list(GROUP_COLS),
                           split="train", seed=cfg.seed, progress=cfg.progress,
                           generator=generator)
    res.manifest[GROUP_COLUMN] = group_key(res.manifest, list(GROUP_COLS))
    write_manifest(res.manifest, path)
    return read_manifest(path)
