"""CLI commands of the 'separability' topic: `study separability` and `pretrain`."""

from __future__ import annotations

from pathlib import Path

import typer

from fakescope.errors import ConfigError


def study_separability(
    manifest: Path = typer.Option(None, "--manifest", "-m", help="Manifest (CSV/Parquet); "
                                  "default: build a SynthFaces benchmark in OUT/benchmark."),
    out: Path = typer.Option(Path("runs/separability"), "--out", "-o", help="Run folder."),
    identities: int = typer.Option(80, help="SynthFaces identities when no --manifest."),
    backbones: str = typer.Option("", "--backbones", "-b",
                                  help="Comma-separated names (default: every offline one)."),
    per_class: int = typer.Option(200, help="Fine-tuning images per class."),
    sep_per_source: int = typer.Option(200, help="Separability images per source."),
    finetune_epochs: int = typer.Option(3, help="Fine-tuning epochs (torch backbones)."),
    cross_generator: bool = typer.Option(True, help="Hold each generator out in turn."),
    size: int = typer.Option(0, help="Input size of torch backbones (0: native)."),
    n_boot: int = typer.Option(100, help="Bootstrap resamples for the CIs."),
    simclr_checkpoint: Path = typer.Option(None, help="SimCLR checkpoint folder (default: "
                                           "pre-train one on the real faces)."),
    seed: int = typer.Option(0, help="Seed of every random step."),
    device: str = typer.Option("", help="cpu, cuda, cuda:N (default: CUDA when present)."),
    retrain: bool = typer.Option(False, "--retrain",
                                 help="Retrain fine-tuning runs (and the SimCLR checkpoint) that "
                                 "OUT holds with other settings (default: refuse them)."),
):
    """Separability of frozen backbones, then fine-tuned AUC and their rank correlation.

    Without --manifest the study builds SynthFaces (both domains, all nine generators). A re-run
    into the same --out reuses what matches and refuses runs made with other settings, unless
    --retrain.

    Example: fakescope study separability --manifest data/manifest.csv
    --backbones dlib_face,efficientnet_lite0,fft,lbp --per-class 200 --out runs/sep
    """
    import os

    from fakescope.experiments.separability import StudyConfig, run_separability_study
    from fakescope.models.feature_extractors import feature_extractor_info

    names = [b.strip() for b in backbones.split(",") if b.strip()] or None
    for n in names or []:
        feature_extractor_info(n)  # unknown names fail before any work
    opts = {"simclr": {"checkpoint_path": simclr_checkpoint}} if simclr_checkpoint else {}
    cfg = StudyConfig(backbones=names, per_class=per_class, sep_per_source=sep_per_source,
                      finetune_epochs=finetune_epochs, cross_generator=cross_generator,
                      image_size=size or None, n_boot=n_boot, seed=seed,
                      device=device or None, backbone_opts=opts)
    if manifest is None:
        from fakescope.data.synthfaces.build import build_benchmark

        typer.echo(f"building SynthFaces ({identities} identities) in {out / 'benchmark'}")
        build_benchmark(out / "benchmark", identities=identities, images_per_identity=6,
                        seed=seed, workers=os.cpu_count() or 1)
        manifest = out / "benchmark" / "manifest.csv"
    tables = run_separability_study(manifest, out, cfg, retrain=retrain, log=typer.echo)
    cols = ["backbone", "ami_binary", "silhouette", "probe_auc", "knn_accuracy"]
    typer.echo(tables["separability"][cols].to_string(index=False, float_format="%.3f"))
    ft_cols = [c for c in ("backbone", "test_auc", "cross_generator_auc", "gap_train_val")
               if c in tables["finetune"]]
    typer.echo(tables["finetune"][ft_cols].to_string(index=False, float_format="%.3f"))
    typer.echo(f"report: {out / 'report.html'}")


def pretrain(
    manifest: Path = typer.Option(..., "--manifest", "-m", help="Manifest; real faces used."),
    out: Path = typer.Option(..., "--out", "-o", help="Checkpoint folder to write."),
    method: str = typer.Option("simclr", help="Self-supervised method (simclr)."),
    arch: str = typer.Option("resnet18", help="timm architecture (random init)."),
    epochs: int = typer.Option(10, help="Epochs."),
    size: int = typer.Option(96, help="Input size (64-112 px is plenty on CPU)."),
    batch_size: int = typer.Option(64, help="Images per batch (two views each)."),
    seed: int = typer.Option(0, help="Seed."),
    device: str = typer.Option("", help="cpu, cuda, cuda:N (default: CUDA when present)."),
):
    """Self-supervised pre-training on the manifest's real faces only.

    Example: fakescope pretrain --method simclr --manifest data/manifest.csv
    --out runs/simclr --epochs 20 --size 96
    """
    from fakescope.data.manifest import read_manifest
    from fakescope.train.ssl import SimCLRConfig, pretrain_simclr

    if method != "simclr":
        raise ConfigError(f"unknown method {method!r}", hint="use --method simclr")
    meta = pretrain_simclr(read_manifest(manifest), out, SimCLRConfig(
        arch=arch, epochs=epochs, image_size=size, batch_size=batch_size, seed=seed,
        device=device or None))
    typer.echo(f"SimCLR on {meta['n_images']} real faces, loss per epoch "
               f"{', '.join(f'{v:.3f}' for v in meta['losses'])}; checkpoint: {out} "
               f"(use: create_feature_extractor('simclr', checkpoint_path='{out}'))")


def register(app, data_app, study_app) -> None:
    """Add this topic's commands to the root app and the `data` / `study` groups."""
    study_app.command("separability")(study_separability)
    app.command("pretrain")(pretrain)
