"""Core commands: train, evaluate, metrics, detect, demo."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from fakescope.cli.backend import BACKEND, RAY_ADDRESS, workers_option
from fakescope.cli.output import console, err_console, print_table, to_json, write_json

UNCERTAINTY_METHODS = ("none", "mc", "mc_head", "bnn", "ensemble", "tta")


def train(
    config: Path = typer.Argument(..., help="YAML training config: a file, or the name of a "
                                  "packaged recipe, e.g. resnet18."),
    set_: list[str] = typer.Option([], "--set", help="Override a key, e.g. --set optim.lr=3e-4."),
    out: Path | None = typer.Option(None, "--out", help="Run folder (default: config's out_dir)."),
    retrain: bool = typer.Option(False, "--retrain", help="Replace a finished run in OUT that was "
                                 "made with other settings or rows (default: refuse)."),
):
    """Train a detector from a YAML config; the best checkpoint is chosen on the validation split.

    Resumes automatically from OUT/last when it exists; a finished run with the same settings
    and rows is reused, one with other settings is refused unless --retrain. Multi-process:
    `torchrun --nproc_per_node 2 -m fakescope.cli.main train CONFIG`. The map detectors
    (recipes ppg_map, motion_map) train on a video manifest: signals and maps of every clip are
    cached under OUT, and test scores are per clip.

    Example: fakescope train resnet18 --set data.manifest=data/manifest.csv --out runs/r18

    Example: fakescope train ppg_map --set data.manifest=data/synth-video/manifest.csv --out runs/ppg
    """
    from fakescope.config import load_config
    from fakescope.data.manifest import select_split
    from fakescope.train.distributed import is_main_process
    from fakescope.train.run import config_rows, fit_or_reuse, score

    cfg = load_config(config, set_)
    rows = config_rows(cfg)
    run = fit_or_reuse(cfg, rows, out, retrain=retrain, log=console.print)
    if not is_main_process():
        return
    console.print(f"best {run.metric} = {run.best_metric:.4f} at epoch {run.best_epoch}; "
                  f"checkpoint: {run.best_checkpoint}")
    test = select_split(rows, cfg.data.test_split)
    if len(test):
        scores = score(run, test, cache=run.out / "scores_test.csv", log=console.print)
        console.print(f"test scores: {run.out / 'scores_test.csv'} ({len(scores)} rows)")


def evaluate(
    model: Path = typer.Option(..., "--model", help="Checkpoint folder (model.safetensors + meta.json)."),
    manifest: Path = typer.Option(..., "--manifest", help="Manifest CSV/Parquet."),
    split: str = typer.Option("test", help="Split to evaluate; 'all' for every row."),
    out: Path = typer.Option(Path("scores.csv"), "--out", help="Where to write the scores table."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the metrics as JSON."),
    batch_size: int = typer.Option(64, help="Images per forward pass."),
    bootstrap: int = typer.Option(1000, help="Bootstrap resamples for confidence intervals."),
    workers: int = workers_option(),
    backend: str = BACKEND,
    ray_address: str | None = RAY_ADDRESS,
):
    """Score a manifest split with a checkpoint, write the scores table and print the metrics.

    Rows are scored in chunks (tasks of the backend, on GPUs when a Ray cluster has them);
    finished chunks are kept in OUT.parts/ until the table is written, so an interrupted run
    resumes. A map detector (ppg_map, motion_map) scores a video manifest one row per clip (the
    mean over its windows); its signals (extracted on the backend) and maps are cached in the run
    folder beside the checkpoint.

    Example: fakescope evaluate --model runs/r18/best --manifest data/manifest.csv --split test

    Example: fakescope evaluate --model runs/r18/best --manifest dfdc.csv --backend ray --ray-address auto
    """
    from fakescope.cli.backend import backend_from
    from fakescope.data.manifest import read_manifest, select_split
    from fakescope.errors import DataError
    from fakescope.metrics.summary import flat_table, summarize_scores
    from fakescope.scores import write_scores
    from fakescope.train.run import load_run
    from fakescope.train.score_tasks import score_rows

    where = backend_from(backend, workers, ray_address)
    run = load_run(model)
    df = read_manifest(manifest)
    if split != "all":
        df = select_split(df, split)
    if df.empty:
        raise DataError(f"no rows in split {split!r}", path=manifest)
    scores = score_rows(run, df, backend=where, batch_size=batch_size,
                        parts=out.with_name(out.name + ".parts"), progress=True,
                        log=console.print)
    write_scores(scores, out)
    summary = summarize_scores(scores, n_boot=bootstrap)
    summary["skipped"] = scores.attrs["skipped"]
    print_table(flat_table(summary), title=f"{manifest} [{split}] — {len(scores)} scored, "
                f"{len(summary['skipped'])} skipped")
    console.print(f"scores: {out}")
    if json_out:
        write_json(summary, json_out)


def metrics(
    scores: Path = typer.Argument(..., help="Scores CSV/Parquet with label and p_fake columns."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the metrics as JSON here."),
    threshold: float = typer.Option(0.5, help="Decision threshold on p_fake for accuracies."),
    bootstrap: int = typer.Option(1000, help="Bootstrap resamples for CIs (0 = none)."),
    video_how: str = typer.Option("mean", "--video-agg", help="Frame-to-video aggregation: mean|max|median."),
    seed: int = typer.Option(0, help="Seed of the bootstrap."),
):
    """Detection metrics of any scores file (bring scores from any detector).

    Frame AUC/EER/AP/accuracy with bootstrap CIs, per-source AUC, and video-level metrics when
    several rows share a video_id.

    Example: fakescope metrics runs/r18/scores_test.csv --json metrics.json
    """
    from fakescope.metrics.summary import flat_table, summarize_scores
    from fakescope.scores import read_scores

    df = read_scores(scores)
    summary = summarize_scores(df, threshold=threshold, n_boot=bootstrap, seed=seed,
                               video_how=video_how)
    print_table(flat_table(summary), title=f"{scores} — {len(df)} rows")
    if json_out:
        write_json(summary, json_out)
        console.print(f"metrics: {json_out}")


def detect(
    paths: list[Path] = typer.Argument(..., help="Images, videos and/or folders (searched recursively)."),
    model: list[Path] = typer.Option(..., "--model", help="Checkpoint folder (repeat it for "
                                     "--uncertainty ensemble)."),
    json_: bool = typer.Option(False, "--json", help="Print one JSON list (streamed) instead "
                               "of a table."),
    jsonl: bool = typer.Option(False, "--jsonl", help="Print one JSON object a line, as each "
                               "file is scored."),
    uncertainty: str = typer.Option("none", help=f"One of {', '.join(UNCERTAINTY_METHODS)}."),
    samples: int = typer.Option(32, help="Stochastic passes T for the uncertainty method."),
    map_dir: Path | None = typer.Option(None, "--map", help="Write overlay PNGs here at the "
                                        "input's resolution: saliency, and its variance over "
                                        "passes with --uncertainty."),
    threshold: float = typer.Option(0.5, help="p_fake at or above which a face is called fake."),
    batch_size: int = typer.Option(32, help="Faces per forward pass (and per streamed batch)."),
    frames: int = typer.Option(32, help="Evenly spaced frames scored per video."),
    faces: str = typer.Option("auto", help="Faces: auto (find every face and align it as the "
                              "checkpoint's training data was), hog, cnn (dlib detector), or "
                              "none (score each image / frame as is)."),
    min_face: int = typer.Option(24, help="Faces smaller than this (box side, pixels) are not "
                                 "scored."),
    max_megapixels: float = typer.Option(50.0, help="Refuse images larger than this (read from "
                                         "the header, before decoding)."),
    min_size: int = typer.Option(16, help="Refuse images whose shorter side is smaller (pixels)."),
    save_maps: Path | None = typer.Option(None, "--save-maps", help="Map detectors: write each "
                                          "clip's first signal map here as PNG."),
    workers: int = workers_option(),
    backend: str = BACKEND,
    ray_address: str | None = RAY_ADDRESS,
):
    """Score images and videos with a checkpoint: one result per file, one entry per face.

    Every face in a photo is found and aligned as the checkpoint's training data was (its
    recorded preprocessing); the file's verdict is that of its most-fake face. A file with no
    face is reported as such (--faces none scores it whole). Each result carries ood_score and
    in_distribution; a face outside the training distribution gets the verdict "uncertain" (its
    p_fake is kept). Files are streamed in batches; --jsonl prints each result as it comes,
    otherwise a table follows at the end. A video's score is the mean over its sampled frames'
    largest face. Bad or skipped files are listed with their reason; exit code 0 when all were
    scored, 1 when some were not, 2 when none was. With --workers N or --backend ray, chunks of
    files are scored in parallel tasks and printed in input order.

    Example: fakescope detect photos/ clip.mp4 face.png --model runs/r18/best --jsonl

    Example: fakescope detect group.jpg --model runs/r18/best --uncertainty mc_head --map maps/

    Example: fakescope detect face.png --model runs/a/best --model runs/b/best --uncertainty ensemble

    Example: fakescope detect clip.mp4 --model runs/ppg/best --uncertainty mc --save-maps maps/

    Example: fakescope detect /shared/dfdc/ --model runs/r18/best --jsonl --backend ray --ray-address auto
    """
    from fakescope.cli.backend import backend_from
    from fakescope.detect import (
        DetectOptions,
        DetectSession,
        expand_inputs,
        iter_detect_tasks,
        table_row,
    )
    from fakescope.errors import ConfigError

    if json_ and jsonl:
        raise ConfigError("--json and --jsonl both print the results", hint="choose one")
    opts = DetectOptions(uncertainty=uncertainty, samples=samples, threshold=threshold,
                         faces=faces, min_face=min_face, max_megapixels=max_megapixels,
                         min_size=min_size, frames=frames, batch_size=batch_size,
                         map_dir=map_dir, save_maps=save_maps)
    where = backend_from(backend, workers, ray_address)
    session = DetectSession.load(model, opts)  # checks the checkpoints and options here
    inputs = expand_inputs(paths)
    if not inputs:
        from fakescope.errors import DataError

        raise DataError("no images or videos found", path=", ".join(map(str, paths)))
    rows, failed = [], 0
    out = sys.stdout
    from tqdm.auto import tqdm

    bar = tqdm(total=len(inputs), unit="file", desc="detect", file=sys.stderr, disable=None,
               leave=False)
    if json_:
        out.write("[")
    try:
        stream = (session.iter_detect(inputs) if where.inline
                  else iter_detect_tasks(inputs, model, opts, backend=where))
        for i, r in enumerate(stream):
            failed += "error" in r
            if jsonl:
                out.write(to_json(r, indent=None) + "\n")
                out.flush()
            elif json_:
                out.write(("," if i else "") + "\n" + to_json(r))
                out.flush()
            else:
                rows.append(table_row(r))
            bar.update()
    finally:
        bar.close()
        if json_:
            out.write("\n]\n")
    if rows:
        import pandas as pd

        table = pd.DataFrame(rows)
        if table["epistemic"].isna().all():
            table = table.drop(columns="epistemic")
        if table["ood_score"].isna().all():
            table = table.drop(columns="ood_score")
        print_table(table, title=f"{len(rows)} file(s)")
    if failed:
        err_console.print(f"{failed} of {len(inputs)} file(s) could not be scored")
        raise typer.Exit(2 if failed == len(inputs) else 1)


def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run folder for the report."),
    identities: int = typer.Option(160, help="SynthFaces identities (images are split by identity)."),
    images_per_identity: int = typer.Option(8, help="Real images per identity (each gets one fake)."),
    detectors: str = typer.Option("resnet18,efficientnet_lite0", help="Comma-separated detectors "
                                  "(efficientnet_lite0 starts from packaged ImageNet weights)."),
    epochs: int = typer.Option(6, help="Training epochs of a detector with packaged "
                               "pretrained weights."),
    scratch_epochs: int = typer.Option(12, help="Training epochs of a detector trained from "
                                       "scratch."),
    image_size: int = typer.Option(96, help="Detector input size in pixels."),
    analyses: str = typer.Option("all", help="Report analyses to add: all, none, or a comma list."),
    workers: int = typer.Option(0, help="Processes for building the benchmark (0 = all cores)."),
    seed: int = typer.Option(0, help="Seed of every random process."),
    quick: bool = typer.Option(False, "--quick", help="A tiny configuration (a smoke test)."),
    video: bool = typer.Option(True, "--video/--no-video", help="Add the video study: "
                               "SynthFaces clips with a pulse, their signals and the "
                               "difficulty controls (about 10 minutes on 2 cores at 36 identities)."),
    video_identities: int = typer.Option(36, help="Identities of the video study (2 clips "
                                         "each, each with one fake)."),
):
    """Build SynthFaces, train detectors, evaluate them and write OUT/report.html.

    Evaluation is in-domain, cross-generator (held-out generators) and cross-domain (phone
    camera style); every number is also written as JSON and CSV. Re-running reuses the benchmark
    and the finished trainings that match; the demo owns OUT, so a training made with other
    settings (or by an older fakescope) is redone.

    Example: fakescope demo --out runs/demo
    """
    import os

    from fakescope.experiments.demo import ANALYSES, DemoConfig, run_demo
    from fakescope.experiments.video import VideoStudyConfig

    names = tuple(ANALYSES) if analyses == "all" else tuple(
        a for a in analyses.split(",") if a and a != "none")
    unknown = [a for a in names if a not in ANALYSES]
    if unknown:
        from fakescope.errors import ConfigError

        raise ConfigError(f"unknown analyses {unknown}", hint=f"choose from {', '.join(ANALYSES)}")
    cfg = DemoConfig(identities=identities, images_per_identity=images_per_identity,
                     detectors=tuple(d for d in detectors.split(",") if d), epochs=epochs,
                     scratch_epochs=scratch_epochs, image_size=image_size, seed=seed, analyses=names,
                     workers=workers or os.cpu_count() or 1,
                     video=VideoStudyConfig(identities=video_identities, seed=seed,
                                            workers=workers or os.cpu_count() or 1)
                     if video else None)
    if quick:
        cfg.identities, cfg.images_per_identity, cfg.epochs, cfg.scratch_epochs = 24, 4, 1, 1
        cfg.image_size, cfg.detectors, cfg.n_boot = 32, ("tiny",), 50
        if cfg.video is not None:
            cfg.video = VideoStudyConfig(identities=9, clips_per_identity=1, seconds=4.5,
                                         size=48, n_boot=50, seed=seed, workers=cfg.workers)
    run_demo(out, cfg, say=console.print)


def register(app, data_app, study_app) -> None:
    app.command()(demo)
    app.command()(train)
    app.command()(evaluate)
    app.command()(metrics)
    app.command()(detect)
