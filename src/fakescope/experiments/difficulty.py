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

Each training lives in ``OUT/runs/<name>`` and writes ``OUT/scores/<name>.csv``; a training whose
scores CSV exists is skipped and an interrupted one resumes from its last checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fakescope.config import load_config
from fakescope.metrics.detection import bootstrap_ci, roc_auc
from fakescope.models.registry import OFFLINE_PRETRAINED
from fakescope.report import Report, Section
from fakescope.report.plots import grouped_bars
from fakescope.scores import read_scores, write_scores

#: The target band of in-domain AUC for every generator (issue 3).
TARGET = (0.75, 0.98)


def _log(say: Callable[[str], None] | None, text: str) -> None:
    if say:
        say(text)


def generator_auc(scores: pd.DataFrame, generator: str, *, n_boot: int = 300,
                  seed: int = 0) -> tuple[float, float, float, int]:
    """``(auc, lo, hi, n_fake)`` of ``generator``'s fakes against all reals in ``scores``."""
    part = scores[(scores["label"] == 0) | (scores["source"] == generator)]
    y, s = part["label"].to_numpy(), part["p_fake"].to_numpy()
    lo, hi = bootstrap_ci(roc_auc, y, s, n_boot=n_boot, seed=seed)
    return roc_auc(y, s), lo, hi, int(y.sum())


def drop_ci(scores_in: pd.DataFrame, scores_logo: pd.DataFrame, generator: str, *,
            n_boot: int = 300, seed: int = 0) -> tuple[float, float, float]:
    """``(drop, lo, hi)``: ``AUC_in - AUC_logo`` of ``generator``'s test fakes against all test
    reals, with a *paired*, identity-clustered percentile bootstrap.

    Both detectors score the same test images (joined on ``sample_id``), and each resample
    draws whole identities (a real and the fakes made from it, and an identity's other images,
    are not independent) and recomputes both AUCs on the same draw, so the interval is that of
    the difference itself: much tighter than the two AUC intervals side by side, because the
    test-set luck the two share cancels. It covers test-set sampling only, not the spread from
    training one detector again with another seed.
    """
    keep = ["sample_id", "label", "p_fake", "identity"]
    part = scores_in[(scores_in["label"] == 0) | (scores_in["source"] == generator)][keep]
    both = part.merge(scores_logo[["sample_id", "p_fake"]], on="sample_id",
                      suffixes=("_in", "_logo"), validate="one_to_one")
    y = both["label"].to_numpy()
    a, b = both["p_fake_in"].to_numpy(), both["p_fake_logo"].to_numpy()

    def diff(yy, idx):  # bootstrap_ci resamples positions; both AUCs use the same ones
        i = idx.astype(np.int64)
        return roc_auc(yy, a[i]) - roc_auc(yy, b[i])

    lo, hi = bootstrap_ci(diff, y, np.arange(len(y)), n_boot=n_boot, seed=seed,
                          clusters=both["identity"].to_numpy())
    return roc_auc(y, a) - roc_auc(y, b), lo, hi


def _check_training_settings(out: Path, overrides: list[str]) -> None:
    """Record the training settings in ``OUT/training.json`` (the overrides and the whole
    resolved config, so a later change of a default is caught too); refuse a folder whose
    cached trainings were made with other ones, naming each difference."""
    import json

    from fakescope.errors import ConfigError, DataError
    from fakescope.train.engine import config_conflicts

    cfg = load_config(None, overrides)
    path = out / "training.json"
    if not path.exists():
        path.write_text(json.dumps({"overrides": overrides, "training": cfg.to_dict()}, indent=1))
        return
    try:
        old = json.loads(path.read_text())
        old_overrides, old_cfg = old["overrides"], old.get("training")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{path} is not a difficulty-study settings file: {exc}",
                        hint="delete it or use a new --out") from exc
    if old_cfg is None:  # written before the config was recorded: the overrides must match
        diffs = [] if old_overrides == overrides else [f"overrides: {old_overrides} -> {overrides}"]
    else:
        diffs = config_conflicts(old_cfg, cfg)
    if diffs:
        raise ConfigError(f"{out} holds trainings made with other settings: " + "; ".join(diffs),
                          hint="use a new --out for other settings")


def _train_and_score(name: str, train_rows: pd.DataFrame, test_rows: pd.DataFrame, out: Path,
                     overrides: list[str], say) -> pd.DataFrame:
    """Train on ``train_rows`` (train/val splits), score ``test_rows``; cached in OUT/scores."""
    path = out / "scores" / f"{name}.csv"
    if path.exists():
        _log(say, f"      {name}: reusing {path}")
        return read_scores(path)
    from fakescope.data.dataset import ManifestDataset
    from fakescope.train.recipe import train_from_config

    t0 = time.perf_counter()
    cfg = load_config(None, overrides)
    engine, result, data = train_from_config(cfg, manifest=train_rows, out_dir=out / "runs" / name)
    ds = ManifestDataset(test_rows, image_size=cfg.data.image_size, class_names=data.class_names,
                         on_error="skip")
    scores = engine.predict(ds)
    write_scores(scores, path)
    _log(say, f"      {name}: best val AUC {result.best_metric:.3f} (epoch {result.best_epoch}), "
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
                   overrides: Sequence[str] = (),
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
    sampler ablation). The training settings (detector, size, epochs, batch, lr, seed and
    ``overrides``) are kept in ``OUT/training.json``; a folder made with other settings is
    refused, since its cached trainings would not match.
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
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_set = [f"model.name={detector}", f"model.pretrained={detector in OFFLINE_PRETRAINED}",
                 f"data.image_size={image_size}",
                 f"train.epochs={epochs}", f"train.batch_size={batch_size}", f"optim.lr={lr}",
                 f"train.seed={seed}", "data.cache_images=true", "data.sampler=paired",
                 *overrides]
    _check_training_settings(out, train_set)  # a bad override fails here, before the build
    train_set.append(f"train.progress={progress}")  # display only: not part of the settings
    t0 = time.perf_counter()
    _log(say, f"[1/3] SynthFaces: {identities} identities x {images_per_identity} at {size} px "
              f"-> {out / 'benchmark'}")
    manifest = build_benchmark(out / "benchmark", identities=identities,
                               images_per_identity=images_per_identity, generators=gens,
                               domains=doms, size=size, seed=seed, workers=workers,
                               generator_opts=generator_opts, splits=splits)
    test = manifest[manifest["split"] == "test"].reset_index(drop=True)
    test.attrs = dict(manifest.attrs)
    n_train = int((manifest["split"] == "train").sum())
    _log(say, f"[2/3] in-domain: {detector} at {image_size} px, {epochs} epochs, "
              f"{n_train} training images")
    scores = _train_and_score("all", manifest, test, out, train_set, say)
    rows = []
    for g in gens:
        auc, lo, hi, n = generator_auc(scores, g, n_boot=n_boot, seed=seed)
        rows.append({"generator": g, "n_fake": n, "auc_in": auc, "auc_in_lo": lo, "auc_in_hi": hi})
    table = pd.DataFrame(rows).set_index("generator")
    for c in ("auc_logo", "auc_logo_lo", "auc_logo_hi", "drop_lo", "drop_hi"):
        table[c] = float("nan")
    for k, g in enumerate(held):
        _log(say, f"[3/3] leave-one-generator-out {k + 1}/{len(held)}: without {g}")
        keep = manifest[(manifest["label"] == 0) | (manifest["source"] != g)]
        keep.attrs = dict(manifest.attrs)
        part = test[(test["label"] == 0) | (test["source"] == g)].reset_index(drop=True)
        part.attrs = dict(manifest.attrs)
        s = _train_and_score(f"logo_{g}", keep, part, out, train_set, say)
        auc, lo, hi, _ = generator_auc(s, g, n_boot=n_boot, seed=seed)
        table.loc[g, ["auc_logo", "auc_logo_lo", "auc_logo_hi"]] = [auc, lo, hi]
        _, d_lo, d_hi = drop_ci(scores, s, g, n_boot=n_boot, seed=seed)
        table.loc[g, ["drop_lo", "drop_hi"]] = [d_lo, d_hi]
    table["drop"] = table["auc_in"] - table["auc_logo"]
    table["in_target"] = table["auc_in"].between(*TARGET)
    table = table.reset_index()
    table.to_csv(out / "difficulty.csv", index=False)
    seconds = time.perf_counter() - t0
    _write_section(out, table, dict(identities=identities, images_per_identity=images_per_identity,
                                    size=size, image_size=image_size, detector=detector,
                                    epochs=epochs, domains=doms, seed=seed, logo=held,
                                    overrides=list(overrides),
                                    seconds=round(seconds, 1)))
    _log(say, f"done in {seconds:.0f} s — {out / 'difficulty.csv'}")
    return table


def format_table(table: pd.DataFrame) -> str:
    """The table as Markdown: ``AUC [lo, hi]`` cells, two decimals."""
    def cell(r, k):
        if pd.isna(r[k]):
            return "—"
        return f"{r[k]:.3f} [{r[k + '_lo']:.2f}, {r[k + '_hi']:.2f}]"

    lines = ["| generator | n fake | in-domain AUC [95% CI] | LOGO AUC [95% CI] | "
             "drop [paired 95% CI] |", "|---|---:|---|---|---|"]
    for _, r in table.iterrows():
        drop = ("—" if pd.isna(r["drop"]) else
                f"{r['drop']:+.3f} [{r['drop_lo']:+.2f}, {r['drop_hi']:+.2f}]")
        lines.append(f"| {r['generator']} | {r['n_fake']} | {cell(r, 'auc_in')} | "
                     f"{cell(r, 'auc_logo')} | {drop} |")
    return "\n".join(lines)


def _write_section(out: Path, table: pd.DataFrame, settings: dict) -> None:
    long = table.melt(id_vars="generator", value_vars=["auc_in", "auc_logo"],
                      var_name="setting", value_name="auc").dropna()
    long["setting"] = long["setting"].map({"auc_in": "in-domain", "auc_logo": "leave-one-out"})
    fig = grouped_bars(long, out / "figures" / "difficulty.png", index="generator",
                       columns="setting", values="auc", ylim=(0.4, 1.0),
                       title="SynthFaces difficulty: AUC per generator")
    n_in = int(table["in_target"].sum())
    Report(out, title="fakescope — SynthFaces difficulty").add(Section(
        "difficulty", "SynthFaces difficulty calibration",
        text=(f"{settings['detector']} at {settings['image_size']} px, {settings['epochs']} epochs, "
              f"trained on every generator of domains {', '.join(settings['domains'])}; each "
              "generator's test fakes against all test reals (in-domain), and again after "
              "training without that generator's fakes (leave-one-generator-out, reals kept). "
              f"{n_in}/{len(table)} generators lie in the target band {TARGET[0]}-{TARGET[1]}. "
              "AUC with stratified bootstrap 95% intervals."),
        tables={"auc": table}, figures=[str(fig)],
        numbers={"settings": settings, "table": table.to_dict(orient="records")}, order=15))
