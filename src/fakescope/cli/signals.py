"""CLI commands of the 'signals' topic: heart rate of clips, and the batch signal extraction."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from fakescope.cli.backend import BACKEND, RAY_ADDRESS, workers_option
from fakescope.errors import FakescopeError


def _debug() -> bool:
    from fakescope.cli import main as cli_main

    return cli_main._DEBUG["on"] or os.environ.get("FAKESCOPE_DEBUG") == "1"


def _unique_stem(path: Path, used: set[str]) -> str:
    stem, k = path.stem, 2
    while stem in used:
        stem, k = f"{path.stem}-{k}", k + 1
    used.add(stem)
    return stem


def _plot(sig, method: str, out: Path) -> Path:
    """PNG: the face-mean pulse signal over time, and its spectrum with the heart rate marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    hr = sig.heart_rates[method]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 5), constrained_layout=True)
    ax1.plot(sig.pulse_times, sig.pulses[method], lw=1)
    ax1.set(xlabel="time (s)", ylabel=f"{method} pulse (relative)", title=Path(sig.path).name)
    bpm = hr.freqs * 60
    keep = (bpm >= 30) & (bpm <= 240)
    ax2.plot(bpm[keep], hr.power[keep], lw=1)
    if np.isfinite(hr.hr_bpm):
        ax2.axvline(hr.hr_bpm, color="C3", ls="--",
                    label=f"HR {hr.hr_bpm:.1f} bpm, SNR {hr.snr_db:.1f} dB")
        ax2.legend(loc="upper right")
    ax2.set(xlabel="frequency (bpm)", ylabel="power")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def signals(
    clips: list[Path] = typer.Argument(..., help="Video files."),
    json_: bool = typer.Option(False, "--json", help="Print one JSON list instead of a table."),
    method: str = typer.Option("pos", "--method", help="rPPG method: pos|chrom|green."),
    traces: Path | None = typer.Option(None, "--traces", help="Write each clip's traces "
                                       "(per-region RGB, grid, landmarks, pulse) as DIR/<clip>.npz."),
    plot: Path | None = typer.Option(None, "--plot", help="Write DIR/<clip>.png: pulse signal "
                                     "and spectrum with the heart rate marked."),
    detect_every: int = typer.Option(10, "--detect-every", help="Run the face detector every K "
                                     "frames; landmarks are tracked between."),
    detector: str = typer.Option("hog", help="dlib detector: hog|cnn."),
    max_frames: int | None = typer.Option(None, "--max-frames", help="Read at most N frames."),
):
    """Estimate the heart rate (rPPG) of the face in each clip.

    Per clip: path, hr_bpm, snr_db, method. A clip that cannot be read, is shorter than one
    signal window or shows no face prints an error line naming it and the others go on;
    exit code 1 when any failed.

    Example: fakescope signals clip.mp4 other.mp4 --method chrom --plot plots/
    """
    import numpy as np

    from fakescope.cli.output import err_console, print_table, to_json
    from fakescope.data.faces import create_face_detector
    from fakescope.errors import ConfigError
    from fakescope.signals.pipeline import clip_signals, save_npz
    from fakescope.signals.rppg import METHODS

    if method not in METHODS:
        raise ConfigError(f"unknown rPPG method {method!r}", hint=f"use {', '.join(METHODS)}")
    if detect_every < 1:
        raise ConfigError(f"--detect-every {detect_every}", hint="use 1 or more")
    det = create_face_detector(detector)
    results, used = [], set()
    for path in clips:
        try:
            sig = clip_signals(path, detector=det, detect_every=detect_every, methods=(method,),
                               flow="none", max_frames=max_frames)
        except Exception as exc:  # noqa: BLE001 - reported per clip, the others go on
            if _debug():
                raise
            msg = str(exc) if isinstance(exc, FakescopeError) else f"{type(exc).__name__}: {exc}"
            if str(path) not in msg:
                msg = f"{path}: {msg}"
            err_console.print(f"error: {msg}", markup=False, highlight=False)
            results.append({"path": str(path), "error": msg})
            continue
        hr = sig.heart_rates[method]
        res = {"path": str(path), "hr_bpm": _finite(hr.hr_bpm), "snr_db": _finite(hr.snr_db),
               "method": method}
        stem = _unique_stem(path, used)
        if traces is not None:
            res["traces"] = str(save_npz(traces / f"{stem}.npz", sig.arrays()))
        if plot is not None:
            res["plot"] = str(_plot(sig, method, plot / f"{stem}.png"))
        results.append(res)
    if json_:
        sys.stdout.write(to_json(results) + "\n")
    else:
        import pandas as pd

        table = pd.DataFrame([{"path": r["path"], "hr_bpm": r.get("hr_bpm", np.nan),
                               "snr_db": r.get("snr_db", np.nan), "method": method,
                               "error": r.get("error", "")} for r in results])
        if not table["error"].astype(bool).any():
            table = table.drop(columns="error")
        print_table(table, title=f"heart rate ({method}), {len(clips)} clip(s)", digits=1)
    failed = sum("error" in r for r in results)
    if failed:
        err_console.print(f"{failed} of {len(results)} clip(s) failed")
        raise typer.Exit(1)


def _finite(x: float):
    import math

    return round(x, 2) if math.isfinite(x) else None


def data_signals(
    manifest: Path = typer.Argument(..., help="Manifest of videos (relative paths resolve at "
                                    "its folder)."),
    out: Path = typer.Option(..., "--out", help="Output folder (clips/, signals.csv, "
                             "errors.csv)."),
    workers: int = workers_option(),
    landmarks: str = typer.Option("detect", help="detect (dlib + tracking) or manifest "
                                  "(column landmarks_path: .npy/.npz of (T, 68, 2) per clip)."),
    detect_every: int = typer.Option(10, "--detect-every", help="Detector every K frames."),
    methods: str = typer.Option("pos,chrom,green", help="rPPG methods, comma separated."),
    flow: str = typer.Option("farneback", help="Optical flow: farneback|dis|none."),
    max_frames: int | None = typer.Option(None, "--max-frames", help="At most N frames a clip."),
    detector: str = typer.Option("hog", help="dlib detector: hog|cnn."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    backend: str = BACKEND,
    ray_address: str | None = RAY_ADDRESS,
):
    """Extract biological signals (colour and flow traces, landmarks, heart rates) of every
    video in a manifest.

    Resumable: a re-run skips finished clips and refuses other settings. Per-clip errors are
    listed in OUT/errors.csv and the batch goes on; OUT/signals.csv has one row per clip.

    Example: fakescope data signals ffpp.csv --out signals/ffpp --workers 8

    Example: fakescope data signals ffpp.csv --out /shared/signals --backend ray --ray-address auto
    """
    import pandas as pd

    from fakescope.cli.backend import backend_from
    from fakescope.cli.output import console, print_table
    from fakescope.signals.pipeline import extract_signals

    s = extract_signals(manifest, out, detect_every=detect_every,
                        landmarks=landmarks, methods=[m for m in methods.split(",") if m],
                        flow=flow, max_frames=max_frames, detector=detector, progress=progress,
                        backend=backend_from(backend, workers, ray_address))
    rows = [("finished now", s.done), ("finished before", s.skipped), ("failed now", s.failed)]
    print_table(pd.DataFrame(rows, columns=["clips", "count"]), title="signal extraction")
    for path, msg in s.errors[:10]:
        console.print(f"  {path}: {msg}", markup=False, highlight=False)
    if len(s.errors) > 10:
        console.print(f"  ... {len(s.errors) - 10} more")
    console.print(f"signals: {s.signals_path}\nerrors: {s.errors_path}")


def register(app, data_app, study_app) -> None:
    """Add this topic's commands to the root app and the `data` group."""
    app.command()(signals)
    data_app.command("signals")(data_signals)
