"""Difficulty calibration of SynthFaces: per-generator in-domain and leave-one-generator-out AUC.

Protocol (``run_difficulty``):

- build (or reuse) a SynthFaces benchmark in ``OUT/benchmark`` (both domains by default);
- **in-domain**: train the reference detector on the train split of every generator and every
  domain (checkpoint chosen on the val split), score the test split of the same domains. A
  generator's AUC is that of its test fakes against *all* test reals:
  ``AUC_g = P(s(fake_g) > s(real))``;
- **leave-one-generator-out (LOGO)**: for each generator ``g``, train and validate without
  ``g``'s fakes (all reals are kept, so the real distribution is identical and only the fake
  side loses one family), then score ``g``'s test fakes against all test reals;
- ``drop = AUC_in - AUC_logo``; 95% intervals of the AUCs are stratified percentile bootstraps,
  that of the drop a paired, identity-clustered one (:func:`drop_ci`).

Each training is a run folder of the run step (:mod:`fakescope.train.run`), ``OUT/runs/all``
and ``OUT/runs/logo_<g>``, with its test scores in ``OUT/scores/<name>.csv``. A re-run reuses
a finished training whose settings and training rows match and resumes an interrupted one; a
training made with other settings or rows — or by a fakescope from before the run step (no
``run.json``) — is refused, or replaced with ``retrain=True``. ``OUT/training.json`` records the
study's training settings for ``difficulty-seeds``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from fakescope.config import TrainConfig, load_config, parse_override
from fakescope.data.manifest import subset
from fakescope.experiments.difficulty.report import write_section
from fakescope.experiments.difficulty.stats import TARGET, drop_ci, generator_auc
from fakescope.models.registry import OFFLINE_PRETRAINED
from fakescope.train.run import fit_or_reuse, score


def _log(say: Callable[[str], None] | None, text: str) -> None:
    if say:
        say(text)


def training_settings(*, detector: str, image_size: int, epochs: int, batch_size: int,
                      lr: float, seed: int, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The training-config settings (dotted keys) of every training of the study: the
    protocol's own, then the ``key=value`` ``overrides`` (which win on a shared key)."""
    settings = {"model.name": detector, "model.pretrained": detector in OFFLINE_PRETRAINED,
                "data.image_size": image_size, "train.epochs": epochs,
                "train.batch_size": batch_size, "optim.lr": lr, "train.seed": seed,
                "data.cache_images": True, "data.sampler": "paired"}
    for text in overrides:
        keys, value = parse_override(text)
        settings[".".join(keys)] = value
    return settings


def _train_and_score(name: str, cfg: TrainConfig, train_rows: pd.DataFrame,
                     test_rows: pd.DataFrame, out: Path, *, retrain: bool, say) -> pd.DataFrame:
    """Train (or reuse) run ``OUT/runs/<name>`` on ``train_rows`` (train/val splits); the scores
    table of ``test_rows``, cached in ``OUT/scores/<name>.csv``."""
    t0 = time.perf_counter()
    run = fit_or_reuse(cfg, train_rows, out / "runs" / name, retrain=retrain, log=say)
    scores = score(run, test_rows, cache=out / "scores" / f"{name}.csv")
    if not run.reused:
        _log(say, f"      {name}: best val AUC {run.best_metric:.3f} (epoch {run.best_epoch}), "
                  f"{time.perf_counter() - t0:.0f} s")
    return scores


def run_difficulty(out_dir: str | Path, *, identities: int = 250, images_per_identity: int = 10,
                   size: int = 128, image_size: int = 128, detector: str = "resnet18",
                   epochs: int = 8, logo: bool | Sequence[str] = True,
                   generators: Sequence[str] | None = None,
                   domains: Sequence[str] | None = None, batch_size: int = 32, lr: float = 2e-3,
                   seed: int = 0, workers: int = 1, n_boot: int = 300,
                   generator_opts: dict | None = None,
                   splits: tuple[float, float, float] = (0.7, 0.15, 0.15), progress: bool = False,
                   overrides: Sequence[str] = (), retrain: bool = False,
                   say: Callable[[str], None] | None = print) -> pd.DataFrame:
    """Run the calibration protocol (module docstring); returns the table and writes
    ``OUT/difficulty.csv`` and the ``difficulty`` section of ``OUT/report.html``.

    Table columns: ``generator, n_fake, auc_in, auc_in_lo, auc_in_hi, auc_logo, auc_logo_lo,
    auc_logo_hi, drop_lo, drop_hi, drop, in_target`` (one row per generator; LOGO columns NaN
    where not run; ``drop_lo/hi`` from :func:`drop_ci`).
    ``logo``: True = every generator, False = none, or the list of generators to hold out.
    ``splits``: train/val/test fractions of identities (a larger test share tightens the
    per-generator intervals of a small benchmark). ``overrides``: extra training-config
    ``key=value`` pairs applied after the protocol's own (e.g. ``data.sampler=shuffle`` for the
    sampler ablation). A training in ``OUT`` made with other settings (detector, size, epochs,
    batch, lr, seed, ``overrides``) or other rows is refused (ConfigError naming the
    differences) unless ``retrain``, which trains it again.
    """
    from fakescope.data.generators import list_generators
    from fakescope.data.synthfaces.build import build_benchmark
    from fakescope.data.synthfaces.traits import DOMAINS

    gens = list(generators or list_generators())
    doms = list(domains or DOMAINS)
    held = gens if logo is True else ([] if logo is False else list(logo))
    unknown = sorted(set(held) - set(gens))
    if unknown:
        from fakescope.errors import ConfigError
        raise ConfigError(f"LOGO generator(s) {unknown} are not in the benchmark",
                          hint=f"choose from {', '.join(gens)}")
    settings = training_settings(detector=detector, image_size=image_size, epochs=epochs,
                                 batch_size=batch_size, lr=lr, seed=seed, overrides=overrides)
    # a bad override fails here, before the build; progress is display only, not a setting
    cfg = load_config(None, settings={**settings, "train.progress": progress})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    _log(say, f"[1/3] SynthFaces: {identities} identities x {images_per_identity} at {size} px "
              f"-> {out / 'benchmark'}")
    manifest = build_benchmark(out / "benchmark", identities=identities,
                               images_per_identity=images_per_identity, generators=gens,
                               domains=doms, size=size, seed=seed, workers=workers,
                               generator_opts=generator_opts, splits=splits)
    test = subset(manifest, manifest["split"] == "test")
    n_train = int((manifest["split"] == "train").sum())
    _log(say, f"[2/3] in-domain: {detector} at {image_size} px, {epochs} epochs, "
              f"{n_train} training images")
    scores = _train_and_score("all", cfg, manifest, test, out, retrain=retrain, say=say)
    rows = []
    for g in gens:
        auc, lo, hi, n = generator_auc(scores, g, n_boot=n_boot, seed=seed)
        rows.append({"generator": g, "n_fake": n, "auc_in": auc, "auc_in_lo": lo, "auc_in_hi": hi})
    table = pd.DataFrame(rows).set_index("generator")
    for c in ("auc_logo", "auc_logo_lo", "auc_logo_hi", "drop_lo", "drop_hi"):
        table[c] = float("nan")
    for k, g in enumerate(held):
        _log(say, f"[3/3] leave-one-generator-out {k + 1}/{len(held)}: without {g}")
        keep = subset(manifest, (manifest["label"] == 0) | (manifest["source"] != g))
        part = subset(test, (test["label"] == 0) | (test["source"] == g))
        s = _train_and_score(f"logo_{g}", cfg, keep, part, out, retrain=retrain, say=say)
        auc, lo, hi, _ = generator_auc(s, g, n_boot=n_boot, seed=seed)
        table.loc[g, ["auc_logo", "auc_logo_lo", "auc_logo_hi"]] = [auc, lo, hi]
        _, d_lo, d_hi = drop_ci(scores, s, g, n_boot=n_boot, seed=seed)
        table.loc[g, ["drop_lo", "drop_hi"]] = [d_lo, d_hi]
    table["drop"] = table["auc_in"] - table["auc_logo"]
    table["in_target"] = table["auc_in"].between(*TARGET)
    table = table.reset_index()
    table.to_csv(out / "difficulty.csv", index=False)
    (out / "training.json").write_text(json.dumps(
        {"settings": settings, "training": cfg.to_dict()}, indent=1))
    seconds = time.perf_counter() - t0
    write_section(out, table, dict(identities=identities, images_per_identity=images_per_identity,
                                   size=size, image_size=image_size, detector=detector,
                                   epochs=epochs, domains=doms, seed=seed, logo=held,
                                   overrides=list(overrides), seconds=round(seconds, 1)))
    _log(say, f"done in {seconds:.0f} s — {out / 'difficulty.csv'}")
    return table
