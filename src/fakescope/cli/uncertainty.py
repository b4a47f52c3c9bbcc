"""CLI commands of the 'uncertainty' topic: ``fakescope calibrate`` and ``fakescope study
uncertainty``. (``fakescope detect --uncertainty`` lives in cli/core.py and calls
``fakescope.detect.detect_with_uncertainty``.)"""

from __future__ import annotations

from pathlib import Path

import typer

from fakescope.cli.output import console, print_table, write_json


def _probs_and_labels(df):
    """Class probabilities and labels of a scores table.

    With ``logit_k`` columns the probabilities are their softmax, else ``[1 - p_fake, p_fake]``.
    Top-label calibration uses class indices: for ``C > 2`` the classes are taken as
    ``["real", *sorted fake sources]`` (the training convention) when the ``source`` column
    matches ``C``; otherwise the binary view is used.
    """
    import numpy as np
    import torch

    logit_cols = sorted((c for c in df.columns if c.startswith("logit_")),
                        key=lambda c: int(c.split("_")[1]) if c.split("_")[1].isdigit() else 0)
    y = df["label"].to_numpy(dtype=np.int64)
    if len(logit_cols) >= 2:
        logits = np.array(df[logit_cols].to_numpy(dtype=np.float64))
        probs = torch.softmax(torch.from_numpy(logits), 1).numpy()
        if probs.shape[1] > 2 and "source" in df.columns:
            classes = ["real", *sorted(set(df.loc[df["label"] == 1, "source"].astype(str)))]
            if len(classes) == probs.shape[1]:
                lookup = {c: i for i, c in enumerate(classes)}
                y = np.array([0 if lab == 0 else lookup[str(s)]
                              for lab, s in zip(y, df["source"], strict=True)])
                return logits, probs, y
        if probs.shape[1] == 2:
            return logits, probs, y
    p = df["p_fake"].to_numpy(dtype=np.float64)
    probs = np.stack([1 - p, p], 1)
    return np.log(np.clip(probs, 1e-15, 1)), probs, y


def calibrate(
    scores: Path = typer.Option(..., "--scores", help="Scores table (CSV/Parquet) with label and p_fake."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the numbers as JSON here."),
    bins: int = typer.Option(15, help="Number of bins for ECE/MCE."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a reliability diagram PNG (P(fake))."),
    fit_temperature: bool = typer.Option(False, "--fit-temperature",
                                         help="Fit a temperature on validation logits."),
    logits_from: Path | None = typer.Option(
        None, "--logits-from", help="Validation scores file to fit the temperature on "
        "(default: the rows of --scores whose split is 'val')."),
    save_temperature: Path | None = typer.Option(None, "--save-temperature",
                                                 help="Write the fitted temperature (JSON)."),
    temperature: Path | None = typer.Option(None, "--temperature",
                                            help="Apply a saved temperature (JSON) first."),
):
    """Calibration of any scores file: ECE (equal-width and equal-mass), MCE, Brier, NLL.

    Rows 'p_fake' calibrate P(fake) against the label.

    Rows 'top_label' calibrate the top-class confidence against correctness.

    --fit-temperature fits a temperature on validation logits and prints calibrated numbers too.
    When it fits on the file's own split=val rows, every row of the table (raw included) is
    computed on the other rows only. --temperature applies a saved temperature (its own row);
    every temperature divides the raw logits, so none is applied on top of another.

    Example: fakescope calibrate --scores runs/r18/scores_test.csv --json cal.json --fit-temperature --logits-from runs/r18/scores_val.csv --save-temperature runs/r18/T.json
    """
    import json

    import pandas as pd

    from fakescope.errors import ConfigError, DataError
    from fakescope.metrics import calibration as cal
    from fakescope.scores import read_scores

    df = read_scores(scores)
    vdf = None
    if fit_temperature:
        if logits_from is not None:
            vdf = read_scores(logits_from)
        elif "split" in df.columns and (df["split"] == "val").any():
            # fitted on these rows: the numbers below are computed on the others only
            is_val = (df["split"] == "val").to_numpy()
            if is_val.all():
                raise ConfigError("every row of --scores is split=val: nothing is left to "
                                  "evaluate the fitted temperature on", path=scores,
                                  hint="pass --logits-from VAL_SCORES.csv, or include test rows")
            vdf, df = df[is_val], df[~is_val].reset_index(drop=True)
        else:
            raise ConfigError("no validation logits to fit the temperature on",
                              hint="pass --logits-from VAL_SCORES.csv or include split=val rows")
    logits, probs, y = _probs_and_labels(df)
    results = {"scores": str(scores), "n": len(df), "bins": bins,
               "evaluated_on": "rows not in split=val (the temperature was fitted on those)"
               if vdf is not None and logits_from is None else "all rows"}
    rows = [{"calibration": "raw", **r.as_dict()} for r in cal.calibration_summary(
        probs, y, n_bins=bins)]
    if temperature is not None:
        try:
            t_loaded = float(json.loads(Path(temperature).read_text())["temperature"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"not a temperature file: {exc}", path=temperature) from exc
        if not t_loaded > 0:
            raise DataError(f"temperature {t_loaded} must be > 0", path=temperature)
        probs = cal.apply_temperature(logits, t_loaded)
        results["applied_temperature"] = t_loaded
        rows += [{"calibration": f"T={t_loaded:.3f} (--temperature)", **r.as_dict()}
                 for r in cal.calibration_summary(probs, y, n_bins=bins)]
    if vdf is not None:
        vlogits, _, vy = _probs_and_labels(vdf)
        if vlogits.shape[1] != logits.shape[1]:
            raise DataError(f"validation has {vlogits.shape[1]} classes, scores {logits.shape[1]}",
                            path=logits_from or scores)
        t = cal.fit_temperature(vlogits, vy)  # on raw logits, like the rows it is applied to
        results["temperature"] = t
        results["n_fit"] = len(vdf)
        rows += [{"calibration": f"T={t:.3f} (fitted)", **r.as_dict()}
                 for r in cal.calibration_summary(cal.apply_temperature(logits, t), y,
                                                  n_bins=bins)]
        if save_temperature is not None:
            write_json({"temperature": t, "fitted_on": str(logits_from or scores),
                        "n": len(vdf)}, save_temperature)
            console.print(f"temperature: {save_temperature}")
    table = pd.DataFrame(rows)
    results["rows"] = table.to_dict("records")
    print_table(table.drop(columns=["n_bins"]),
                title=f"{scores} — calibration ({len(df)} rows, {results['evaluated_on']})")
    if plot is not None:
        cal.plot_reliability(cal.reliability_table(probs, y, n_bins=bins), plot,
                             title="P(fake) reliability")
        console.print(f"reliability diagram: {plot}")
    if json_out:
        write_json(results, json_out)
        console.print(f"calibration: {json_out}")


def study_uncertainty(
    manifest: Path = typer.Option(..., "--manifest", help="Manifest with train/val/test splits."),
    out: Path = typer.Option(..., "--out", help="Run folder (report, tables, figures)."),
    detectors: str = typer.Option("", help="Comma-separated detectors (default: resnet18, "
                                  "xception, efficientnet_b0, mobilenetv3; on a video manifest "
                                  "also ppg_map and motion_map)."),
    methods: str = typer.Option("mc,mc_head,bnn,ensemble,tta", help="Comma-separated methods."),
    experiments: str = typer.Option("binary,multiclass,source,logo,robustness,maps",
                                    help="Comma-separated experiments."),
    epochs: int = typer.Option(2, help="Training epochs per detector run."),
    size: int = typer.Option(64, help="Image size (pixels)."),
    samples: int = typer.Option(16, help="Stochastic passes T."),
    ensemble_size: int = typer.Option(3, help="Detectors in a deep ensemble."),
    max_per_class: int = typer.Option(120, help="Reals and fakes per split (0 = all)."),
    logo_max: int = typer.Option(2, help="Generators held out in turn, most frequent first "
                                 "(0 = all)."),
    map_epochs: int = typer.Option(8, help="Training epochs of a biological detector (video "
                                   "manifest)."),
    frames_per_clip: int = typer.Option(8, help="Face frames per clip a blind detector trains "
                                        "on and scores (video manifest)."),
    device: str = typer.Option("auto", help="auto, cpu or cuda[:N]."),
    seed: int = typer.Option(0, help="Seed of every random step."),
    retrain: bool = typer.Option(False, "--retrain", help="Train again the runs in OUT that "
                                 "were trained with other settings or rows (else refused)."),
):
    """Uncertainty study: detectors x uncertainty methods x generators.

    Also leave-one-generator-out, source attribution, calibration, robustness and maps; writes the 'Uncertainty' report section.

    On a video manifest (paths are video files) every detector answers per clip: blind detectors score evenly spaced face frames, the biological ppg_map and motion_map their signal-map windows; robustness and maps (image experiments) are left out, and the report compares the two families' calibration and per-generator AUC with identity-clustered intervals.

    A finished run in OUT/runs is reused when its settings and rows match; one trained with other settings (e.g. other --epochs) or rows is refused unless --retrain.

    Example: fakescope study uncertainty --manifest data/synth/manifest.csv --out runs/unc --detectors resnet18,mobilenetv3 --methods mc_head,tta --epochs 2

    Example (video): fakescope data synth --video --out data/synth-video && fakescope study uncertainty --manifest data/synth-video/manifest.csv --out runs/unc-video
    """
    from fakescope.experiments.uncertainty import UncertaintyStudyConfig, run_uncertainty_study

    split = lambda s: [v.strip() for v in s.split(",") if v.strip()]  # noqa: E731
    cfg = UncertaintyStudyConfig(detectors=split(detectors), methods=split(methods),
                                 experiments=split(experiments), epochs=epochs, image_size=size,
                                 samples=samples, ensemble_size=ensemble_size,
                                 max_per_class=max_per_class, logo_max=logo_max,
                                 map_epochs=map_epochs, frames_per_clip=frames_per_clip,
                                 device=device, seed=seed)
    res = run_uncertainty_study(manifest, out, cfg, retrain=retrain, log=console.print)
    if "summary" in res.tables:
        cols = ["detector", "method", "auc", "accuracy", "ece", "total", "aleatoric",
                "epistemic", "variance"]
        print_table(res.tables["summary"][cols],
                    title=f"uncertainty study (test split, per {res.numbers.get('unit', 'image')})")
    console.print(f"report: {out / 'report.html'} ({res.seconds:.0f} s)")


def register(app, data_app, study_app) -> None:
    """Add this topic's commands to the root app and the `data` / `study` groups."""
    app.command()(calibrate)
    study_app.command("uncertainty")(study_uncertainty)
