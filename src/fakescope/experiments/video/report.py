"""Report sections of the video study: the clips and their pulses, heart-rate recovery, and the
difficulty controls. Everything here reads the manifest, the signals folder
(:func:`fakescope.signals.pipeline.extract_signals`) and the controls table; nothing renders or
trains."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from fakescope.data.face_extraction import item_key  # noqa: E402
from fakescope.data.manifest import resolve_path  # noqa: E402
from fakescope.data.video_stream import read_clip  # noqa: E402
from fakescope.experiments.video.controls import TOO_EASY, verdict  # noqa: E402
from fakescope.metrics.detection import bootstrap_ci  # noqa: E402
from fakescope.report import Section  # noqa: E402
from fakescope.report.plots import grouped_bars  # noqa: E402


def _signals(signals_dir: Path, sample_id: str) -> tuple[dict, dict] | None:
    key = item_key(sample_id)
    npz, js = signals_dir / "clips" / f"{key}.npz", signals_dir / "clips" / f"{key}.json"
    if not npz.exists() or not js.exists():
        return None
    summary = json.loads(js.read_text())
    if summary.get("status") == "failed":
        return None
    with np.load(npz) as z:
        return {k: z[k] for k in z.files}, summary


def _pick_pairs(manifest: pd.DataFrame) -> list[tuple[pd.Series, pd.Series]]:
    """Per generator one (real, fake) pair: studio and temporally consistent where there is one."""
    pairs = []
    for g in [s for s in manifest["source"].unique() if s != "real"]:
        fakes = manifest[manifest["source"] == g].copy()
        fakes["_rank"] = ((fakes["domain"] != "studio").astype(int) * 2
                          + (fakes["temporal_mode"] != "consistent").astype(int))
        fake = fakes.sort_values(["_rank", "sample_id"]).iloc[0]
        real = manifest[(manifest["sample_id"] == fake["pair_id"])]
        if len(real):
            pairs.append((real.iloc[0], fake))
    return pairs


def _spectrum(sig: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    n = max(4096, len(sig))
    p = np.abs(np.fft.rfft((sig - sig.mean()) * np.hanning(len(sig)), n)) ** 2
    f = np.fft.rfftfreq(n, 1 / fps) * 60
    band = (f >= 36) & (f <= 200)
    return f[band], p[band] / max(p[band].max(), 1e-12)


def pulse_figure(manifest: pd.DataFrame, signals_dir: Path, path: Path,
                 method: str = "pos") -> Path | None:
    """One row per generator: the real clip's first frame, its fake's, both POS pulse signals
    over time and their spectra, with the ground-truth heart rates marked."""
    pairs = [(r, f, _signals(signals_dir, r["sample_id"]), _signals(signals_dir, f["sample_id"]))
             for r, f in _pick_pairs(manifest)]
    pairs = [p for p in pairs if p[2] and p[3]]
    if not pairs:
        return None
    fig, axes = plt.subplots(len(pairs), 4, figsize=(13, 2.05 * len(pairs)),
                             gridspec_kw={"width_ratios": [1, 1, 3.2, 2.2]}, squeeze=False)
    for row, (real, fake, (ra, rs), (fa, fs)) in zip(axes, pairs, strict=True):
        for ax, r in zip(row[:2], (real, fake), strict=True):
            frame = read_clip(resolve_path(manifest, r["path"]), max_frames=1).frames[0]
            ax.imshow(frame)
            ax.set_xticks([]), ax.set_yticks([])
        row[0].set_ylabel(fake["source"] + (f"\n({fake['temporal_mode']})"
                                            if fake["temporal_mode"] else ""), fontsize=8.5)
        row[0].set_title("real", fontsize=8)
        row[1].set_title(f"fake, pulse: {fake['pulse_source']}", fontsize=8)
        for arr, summ, colour, name in ((ra, rs, "tab:blue", "real"),
                                        (fa, fs, "tab:red", "fake")):
            sig = arr.get(f"pulse_{method}")
            if sig is None:
                continue
            t = arr["pulse_times"][: len(sig)]
            row[2].plot(t, sig / (np.std(sig) + 1e-12), c=colour, lw=0.9,
                        label=f"{name} {summ.get(f'hr_{method}_bpm', float('nan')):.0f} bpm")
            f, p = _spectrum(sig, float(summ["fps"]))
            row[3].plot(f, p, c=colour, lw=1)
        for hr, colour in ((real["hr_bpm"], "tab:blue"), (fake["hr_bpm"], "tab:red")):
            if np.isfinite(hr):
                row[3].axvline(hr, c=colour, ls="--", lw=0.9)
        row[2].legend(fontsize=7, loc="upper right")
        row[2].set_yticks([])
        row[3].set_yticks([])
        row[3].set_xlim(36, 200)
    axes[0, 2].set_title(f"{method.upper()} pulse (std units) — legend: estimated rate",
                         fontsize=9)
    axes[0, 3].set_title("spectrum; dashed = true rate (real blue, fake red)", fontsize=9)
    axes[-1, 2].set_xlabel("time (s)")
    axes[-1, 3].set_xlabel("bpm")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _mean_error(_labels, err) -> float:
    return float(np.mean(err))


def hr_error_table(manifest: pd.DataFrame, signals: pd.DataFrame, *, n_boot: int = 500,
                   seed: int = 0) -> pd.DataFrame:
    """Heart-rate error of the real clips per domain, and per domain and skin tone: mean and
    median |error| (bpm) per method, the mean's 95 % interval resampling identities, and the
    share within 3 bpm. ``group`` is e.g. ``studio`` or ``studio/dark``."""
    d = manifest[manifest["label"] == 0].merge(signals, on="sample_id", how="inner",
                                               suffixes=("", "_sig"))
    rows = []
    for by in (["domain"], ["domain", "skin_tone"]):
        for level, g in d.groupby(by):
            level = "/".join(level)
            for m in ("pos", "chrom", "green"):
                col = f"hr_{m}_bpm"
                if col not in g:
                    continue
                err = (g[col] - g["hr_bpm"]).abs().to_numpy(float)
                ids = g["identity"].to_numpy()
                ok = np.isfinite(err)
                err, ids = err[ok], ids[ok]
                if not len(err):
                    continue
                lo, hi = bootstrap_ci(_mean_error, np.zeros(len(err)), err, n_boot=n_boot,
                                      seed=seed, clusters=ids)
                rows.append({"by": "+".join(by), "group": level, "method": m, "clips": len(err),
                             "mae_bpm": err.mean(), "mae_lo": lo, "mae_hi": hi,
                             "median_bpm": float(np.median(err)),
                             "within_3bpm": float((err <= 3).mean())})
    return pd.DataFrame(rows)


def video_sections(manifest: pd.DataFrame, signals: pd.DataFrame, signals_dir: Path,
                   aucs: pd.DataFrame, out: Path, *, order: int = 70) -> list[Section]:
    """The video study's sections: clips + pulses, heart-rate recovery, controls."""
    figs = out / "figures"
    fig = pulse_figure(manifest, signals_dir, figs / "video_pulses.png")
    n_real = int((manifest["label"] == 0).sum())
    by_src = manifest[manifest["label"] == 1].groupby("pulse_source").size().to_dict()
    clips = Section(
        "video_clips", "SynthFaces video: a real clip beside each generator's fake",
        text=(f"{len(manifest)} clips ({n_real} real, {len(manifest) - n_real} fake) of "
              f"{manifest['identity'].nunique()} identities, {manifest['n_frames'].iloc[0]} "
              f"frames at {manifest['fps'].iloc[0]:g} fps, H.264. The pulse in each fake "
              f"follows what its generator does to pixels: {by_src}. Each row: the first "
              "frame of a real clip and of its fake, their POS pulse signals (face mean of "
              "forehead and cheeks) and spectra; dashed lines are the true rates (a swap's "
              "true rate is its donor's; full synthesis has none unless rendered with one)."),
        figures=[str(fig)] if fig else [], order=order,
        numbers={"clips": len(manifest), "real": n_real, "pulse_source": by_src})
    err = hr_error_table(manifest, signals)
    dom = err[(err["by"] == "domain")]
    hr = Section(
        "video_heart_rate", "Heart rate recovered from the real clips",
        text=("Mean absolute error of the estimated heart rate against the rendered pulse, per "
              "domain and per skin tone (95 % interval over identities). Studio clips are "
              "near-lossless (CRF 0-6), phone clips are H.264 CRF 18-28, which quantises the "
              "sub-level colour change of the pulse away on many clips, darker skin first."),
        tables={"heart_rate_error": err.round(3)}, order=order + 1,
        numbers={"mae_by_domain": {f"{r.group}/{r.method}": round(r.mae_bpm, 2)
                                   for r in dom.itertuples()}})
    v = verdict(aucs)
    pooled = aucs[aucs["mode"] == "all"]
    bars = grouped_bars(pooled, figs / "video_controls.png", index="generator",
                        columns="control", values="auc", ylim=(0, 1.02), hline=TOO_EASY,
                        title="Trivial-cue controls: AUC per generator (dashed: 0.95)")
    easy = [c for c, e in v.items() if e]
    ctrl = Section(
        "video_controls", "Difficulty controls: heart rate alone, frame differences alone",
        text=("Per generator, a logistic regression on one trivial cue separates its fakes from "
              "the real clips (out-of-fold over identities; 95 % interval over identities). "
              "global heart rate: POS rate and SNR of the face mean; frame difference: log "
              "mean and std of the face's frame-to-frame energy. Rows per temporal mode show "
              "the flicker of per-frame generation. "
              + ("A control reaches AUC > 0.95 on every generator: the benchmark is too easy "
                 f"for {', '.join(easy)}." if easy else
                 "Neither control reaches AUC > 0.95 on every generator.")),
        tables={"controls": aucs.round(3)}, figures=[str(bars)], order=order + 2,
        numbers={"too_easy": v, "auc": {f"{r.control}/{r.generator}/{r.mode}": round(r.auc, 3)
                                        for r in aucs.itertuples()}})
    return [clips, hr, ctrl]
