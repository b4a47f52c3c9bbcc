"""Report sections of the video study's detectors: per-generator AUC and epistemic uncertainty
(detector x generator heat maps), calibration per detector and per family with the paired
difference of the families, and example PPG / motion maps of a real clip and its fake.

Inputs are the clip scores tables of :mod:`.detectors` (one per detector: ``label, source,
identity, p_fake, unc_epistemic, ...``). Every interval is a 95 % percentile bootstrap that
resamples **identities** (a person's clips, real and fake, go together), because clips of one
person share a face, a skin tone and a camera and are not independent.

- per-generator AUC: reals (all of them) against that generator's fakes;
- ECE: :func:`fakescope.metrics.calibration.ece` of ``p_fake`` (15 equal-width bins);
- family ECE: the mean of its detectors' ECE on the clips every detector scored; the paired
  difference ``ECE_biological - ECE_blind`` takes both families' ECE on the same resample of
  identities, so their shared variation cancels (:func:`family_ece_difference`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from fakescope.experiments.video.detectors import DetectorScores, family  # noqa: E402
from fakescope.metrics.calibration import ece  # noqa: E402
from fakescope.metrics.detection import bootstrap_ci, roc_auc  # noqa: E402
from fakescope.report import Section  # noqa: E402
from fakescope.report.plots import heatmap  # noqa: E402
from fakescope.signals.map_cache import cache_file  # noqa: E402
from fakescope.signals.maps import map_image, save_map_png  # noqa: E402

#: Blind detectors of the research; those not run take the same code path by name.
RESEARCH_BLIND = ("resnet18", "xception", "efficientnet_b0", "mobilenetv3")
#: Swap generators whose fake is shown beside its real clip in the example maps, by preference.
EXAMPLE_GENERATORS = ("face_swap", "eigenswap")


def _ece(y: np.ndarray, p: np.ndarray) -> float:
    return ece(p, y) if len(y) else float("nan")


def cluster_bootstrap(stat: Callable[[np.ndarray], float], clusters, *, n_boot: int = 500,
                      seed: int = 0) -> np.ndarray:
    """``(n_boot,)`` values of ``stat(idx)`` where ``idx`` indexes the rows of ``n_boot``
    resamples of whole clusters (``clusters (N,)``: drawn with replacement, as many as there
    are). Values may be NaN (an AUC with one class); the caller drops them."""
    _, codes = np.unique(np.asarray(clusters).astype(str), return_inverse=True)
    members = [np.flatnonzero(codes == c) for c in range(codes.max() + 1)]
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot)
    for b in range(n_boot):
        pick = rng.integers(0, len(members), len(members))
        out[b] = stat(np.concatenate([members[i] for i in pick]))
    return out


def _interval(values: np.ndarray) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if not len(v):
        return float("nan"), float("nan")
    return float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))


#: Fewer fakes of a generator than this, and no claim is made about it: a bootstrap over one or
#: two fakes gives an interval as narrow as the luck of those clips (AUC 1 [1, 1] from one).
MIN_FAKES = 5


def per_generator_auc(scores: dict[str, pd.DataFrame], *, n_boot: int = 500,
                      seed: int = 0) -> pd.DataFrame:
    """Per detector and generator: ``detector, family, generator, n_real, n_fake, auc, auc_lo,
    auc_hi`` (reals vs that generator's fakes, interval over identities), ``above_chance``
    (``auc_lo > 0.5`` and at least :data:`MIN_FAKES` fakes; ``too_few`` says when there are
    fewer), mean ``p_fake`` and ``epistemic`` (mean ``unc_epistemic``, NaN without it) on the
    generator's fakes. Generators in order of first appearance."""
    rows = []
    for det, t in scores.items():
        reals = t[t["label"] == 0]
        for g in pd.unique(t.loc[t["label"] == 1, "source"]):
            fakes = t[t["source"] == g]
            d = pd.concat([reals, fakes])
            y, p = d["label"].to_numpy(int), d["p_fake"].to_numpy(float)
            lo, hi = bootstrap_ci(roc_auc, y, p, n_boot=n_boot, seed=seed,
                                  clusters=d["identity"].astype(str).to_numpy())
            rows.append({"detector": det, "family": family(det), "generator": g,
                         "n_real": len(reals), "n_fake": len(fakes), "auc": roc_auc(y, p),
                         "auc_lo": lo, "auc_hi": hi,
                         "above_chance": bool(lo > 0.5) and len(fakes) >= MIN_FAKES,
                         "too_few": len(fakes) < MIN_FAKES,
                         "p_fake": float(fakes["p_fake"].mean()),
                         "epistemic": float(fakes["unc_epistemic"].mean())
                         if "unc_epistemic" in fakes else float("nan")})
    return pd.DataFrame(rows)


def epistemic_by_source(scores: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Detector x source (``real`` first, then the generators) mean ``unc_epistemic``."""
    out = {det: t.groupby("source", sort=False)["unc_epistemic"].mean()
           for det, t in scores.items() if "unc_epistemic" in t}
    table = pd.DataFrame(out).T
    cols = ["real", *[c for c in table.columns if c != "real"]] if "real" in table else list(
        table.columns)
    return table[cols]


def common_clips(scores: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """``sample_id, label, identity`` + one ``p_<detector>`` column per detector, for the clips
    every detector scored."""
    merged = None
    for det, t in scores.items():
        part = t[["sample_id", "label", "identity", "p_fake"]].rename(
            columns={"p_fake": f"p_{det}"})
        merged = part if merged is None else merged.merge(
            part.drop(columns=["label", "identity"]), on="sample_id", how="inner")
    return merged.reset_index(drop=True)


def _family_means(d: pd.DataFrame, dets: list[str], idx: np.ndarray) -> dict[str, float]:
    y = d["label"].to_numpy(int)[idx]
    per = {det: _ece(y, d[f"p_{det}"].to_numpy(float)[idx]) for det in dets}
    return {f: float(np.mean([v for det, v in per.items() if family(det) == f]))
            for f in sorted({family(det) for det in dets})}


def family_ece_difference(scores: dict[str, pd.DataFrame], *, n_boot: int = 500,
                          seed: int = 0) -> dict:
    """Family ECEs and their paired difference on the clips every detector scored:
    ``{"n_clips", "biological", "blind", "biological_lo", ..., "difference",
    "difference_lo", "difference_hi", "verdict"}`` (``difference`` = biological - blind; the
    families and the difference only where both exist). ``verdict``: ``holds`` (interval of the
    difference below 0: biological better calibrated), ``reversed`` (above 0), ``not
    established`` (it contains 0), or ``one family only``."""
    d = common_clips(scores)
    dets = list(scores)
    full = np.arange(len(d))
    point = _family_means(d, dets, full)
    boots: dict[str, list[float]] = {f: [] for f in point}

    def stat(idx: np.ndarray) -> float:
        m = _family_means(d, dets, idx)
        for f, v in m.items():
            boots[f].append(v)
        return m.get("biological", np.nan) - m.get("blind", np.nan)

    diffs = cluster_bootstrap(stat, d["identity"].to_numpy(), n_boot=n_boot, seed=seed)
    out: dict = {"n_clips": len(d), **point}
    for f in point:
        out[f"{f}_lo"], out[f"{f}_hi"] = _interval(np.asarray(boots[f]))
    if {"biological", "blind"} <= set(point):
        lo, hi = _interval(diffs)
        out.update({"difference": point["biological"] - point["blind"], "difference_lo": lo,
                    "difference_hi": hi,
                    "verdict": "holds" if hi < 0 else "reversed" if lo > 0 else
                    "not established"})
    else:
        out["verdict"] = "one family only"
    return out


def calibration_table(scores: dict[str, pd.DataFrame], *, n_boot: int = 500,
                      seed: int = 0) -> pd.DataFrame:
    """``detector, family, n, ece, ece_lo, ece_hi, auc, auc_lo, auc_hi`` per detector, on all
    its scored clips (``auc``: every fake against every real). The AUC is there because ECE
    alone rewards a detector that separates nothing: at the benchmark's 50 % share of fakes,
    ``p_fake = 0.5`` everywhere has ECE 0."""
    rows = []
    for det, t in scores.items():
        y, p = t["label"].to_numpy(int), t["p_fake"].to_numpy(float)
        ids = t["identity"].astype(str).to_numpy()
        lo, hi = bootstrap_ci(_ece, y, p, n_boot=n_boot, seed=seed, clusters=ids)
        a_lo, a_hi = bootstrap_ci(roc_auc, y, p, n_boot=n_boot, seed=seed, clusters=ids)
        rows.append({"detector": det, "family": family(det), "n": len(t), "ece": _ece(y, p),
                     "ece_lo": lo, "ece_hi": hi, "auc": roc_auc(y, p), "auc_lo": a_lo,
                     "auc_hi": a_hi})
    return pd.DataFrame(rows)


#: A detector whose pooled AUC is below this is "near chance" for the calibration caveat.
WEAK_AUC = 0.6


def chance_caveat(cal: pd.DataFrame) -> str:
    """A sentence naming the detectors whose pooled AUC is below WEAK_AUC or whose interval
    contains 0.5 (empty if none): their low ECE says that P(fake) stays near the share of fakes,
    not that they are sure where they should be."""
    near = cal.loc[(cal["auc_lo"] <= 0.5) | (cal["auc"] < WEAK_AUC), "detector"].tolist()
    if not near:
        return ""
    return (f" Caveat: {', '.join(near)} separate{'s' if len(near) == 1 else ''} real from fake "
            f"barely or not better than chance overall (AUC below {WEAK_AUC} or its interval "
            "containing 0.5); a P(fake) that stays "
            "near the 50 % share of fakes has a low ECE without telling anything, so a "
            "comparison of ECE with such a detector says little about calibration where a "
            "detector decides.")


def generator_lines(auc: pd.DataFrame) -> list[str]:
    """Per biological detector: the generators whose AUC interval is above 0.5 and the others;
    then the generators where the families disagree (some detector of one family above chance,
    none of the other)."""
    lines = []
    few = auc.get("too_few", pd.Series(False, index=auc.index)).astype(bool)
    if few.any():
        gens = list(dict.fromkeys(auc.loc[few, "generator"]))
        lines.append(f"Fewer than {MIN_FAKES} scored fakes, so no claim either way: "
                     f"{', '.join(gens)}.")
    for det, t in auc[(auc["family"] == "biological") & ~few].groupby("detector", sort=False):
        yes, no = t.loc[t["above_chance"], "generator"], t.loc[~t["above_chance"], "generator"]
        lines.append(f"{det}: AUC interval above 0.5 on {', '.join(yes) or 'no generator'}; "
                     f"not on {', '.join(no) or 'none'}.")
    if auc.loc[~few, "family"].nunique() == 2:
        by = auc[~few].groupby(["generator", "family"], sort=False)["above_chance"].any().unstack()
        bio_only = by.index[by["biological"] & ~by["blind"]].tolist()
        blind_only = by.index[by["blind"] & ~by["biological"]].tolist()
        lines.append(f"Above chance for a biological detector only: "
                     f"{', '.join(bio_only) or 'none'}; for a blind detector only: "
                     f"{', '.join(blind_only) or 'none'}.")
    return lines


def example_pair(clips: pd.DataFrame) -> tuple[pd.Series, pd.Series] | None:
    """A real clip and its fake by a swap generator (:data:`EXAMPLE_GENERATORS`), studio and
    temporally consistent where there is one; None when there is no such pair."""
    fakes = clips[clips["source"].isin(EXAMPLE_GENERATORS)].copy()
    if fakes.empty:
        fakes = clips[clips["label"] == 1].copy()
    if fakes.empty or "pair_id" not in fakes:
        return None
    def off(col: str, want: str) -> pd.Series:
        return (fakes[col] != want).astype(int) if col in fakes else 0

    fakes["_rank"] = (off("source", EXAMPLE_GENERATORS[0]) + 2 * off("domain", "studio")
                      + 4 * off("temporal_mode", "consistent"))
    for _, fake in fakes.sort_values(["_rank", "sample_id"]).iterrows():
        real = clips[clips["sample_id"] == fake["pair_id"]]
        if len(real):
            return real.iloc[0], fake
    return None


def _first_map(cache: Path, sample_id: str) -> np.ndarray | None:
    path = cache_file(cache, sample_id)
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        return z["maps"][0].astype(np.float32) if len(z["maps"]) else None


def example_maps(clips: pd.DataFrame, map_dirs: dict[str, Path], fig_dir: Path,
                 ) -> tuple[Path | None, list[Path], str]:
    """The first-window map of each kind in ``map_dirs`` for a real clip and its fake
    (:func:`example_pair`): one PNG per map (:func:`~fakescope.signals.maps.save_map_png`) and
    one figure with them side by side. Returns (figure, PNGs, caption)."""
    pair = example_pair(clips)
    if pair is None or not map_dirs:
        return None, [], ""
    real, fake = pair
    kinds = sorted(map_dirs, key=lambda k: (k != "ppg", k))
    maps = {(r["sample_id"], k): _first_map(map_dirs[k], r["sample_id"])
            for r in (real, fake) for k in kinds}
    if all(m is None for m in maps.values()):
        return None, [], ""
    pngs = []
    fig, axes = plt.subplots(2, len(kinds), figsize=(4.2 * len(kinds), 4.6), squeeze=False)
    for i, (r, tag) in enumerate(((real, "real"), (fake, f"fake ({fake['source']})"))):
        for j, k in enumerate(kinds):
            ax = axes[i, j]
            ax.set_xticks([]), ax.set_yticks([])
            m = maps[(r["sample_id"], k)]
            if m is None:
                ax.set_title(f"{tag}: no {k} map", fontsize=8)
                continue
            pngs.append(save_map_png(fig_dir / f"{r['sample_id']}_{k}.png", m))
            ax.imshow(map_image(m, scale=1), aspect="auto", interpolation="nearest")
            ax.set_title(f"{tag} — {k} map, first window", fontsize=8.5)
            if i == 1:
                ax.set_xlabel("left: signal per cell (z-score); right: spectrum per cell",
                              fontsize=7.5)
            if j == 0:
                ax.set_ylabel("rows: frames (left), 0.7-3 Hz (right)", fontsize=7.5)
    path = fig_dir / "video_example_maps.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    caption = (f"real {real['sample_id']} and its {fake['source']} fake {fake['sample_id']} "
               f"({fake.get('domain', '')}, pulse in the fake: {fake.get('pulse_source', '?')})")
    return path, pngs, caption


def verdict_text(diff: dict) -> str:
    if diff["verdict"] == "one family only":
        return "Only one detector family ran, so the families are not compared."
    d = (f"ECE biological - blind = {diff['difference']:+.3f} [{diff['difference_lo']:+.3f}, "
         f"{diff['difference_hi']:+.3f}] on {diff['n_clips']} clips")
    return {"holds": f"'Biological detectors are better calibrated' holds on SynthFaces video: "
                     f"{d}.",
            "reversed": f"'Biological detectors are better calibrated' does not hold on "
                        f"SynthFaces video: the blind detectors are better calibrated ({d}).",
            "not established": f"'Biological detectors are better calibrated' does not hold at "
                               f"this size: the interval of the difference contains 0 ({d})."
            }[diff["verdict"]]


def detector_sections(result: DetectorScores, clips: pd.DataFrame, out: Path, *,
                      n_boot: int = 500, seed: int = 0, order: int = 73) -> list[Section]:
    """The sections ``video_detectors``, ``video_calibration`` and ``video_maps`` (or one
    ``video_detectors`` section saying why the step did not run)."""
    if result.skip_reason or not result.scores:
        return [Section("video_detectors", "Detectors on SynthFaces video",
                        text=f"Not run: {result.skip_reason or 'no detector'}.", order=order,
                        numbers={"skipped": result.skip_reason})]
    figs = out / "figures"
    scores = result.scores
    dets = list(scores)
    blind = [d for d in dets if family(d) == "blind"]
    auc = per_generator_auc(scores, n_boot=n_boot, seed=seed)
    epi = epistemic_by_source(scores)
    heat = [heatmap(auc.pivot(index="detector", columns="generator", values="auc")
                    .loc[dets, list(pd.unique(auc["generator"]))],
                    figs / "video_detectors_auc.png", vmin=0, vmax=1, cmap="viridis",
                    title="AUC (reals vs the generator's fakes), out of fold")]
    if not epi.empty:
        heat.append(heatmap(epi, figs / "video_detectors_epistemic.png", fmt=".3f",
                            cmap="magma", title="mean epistemic uncertainty (MC dropout)"))
    lines = generator_lines(auc)
    others = [d for d in RESEARCH_BLIND if d not in blind]
    n_clips = {d: len(t) for d, t in scores.items()}
    text = (
        f"Out-of-fold clip scores: identities in {int(scores[dets[0]]['fold'].max()) + 1} "
        "groups; each group's clips are scored by a model trained on the others (a share of "
        "their identities kept for validation), so no clip is scored by a model that saw its "
        "person. Biological: "
        f"{', '.join(d for d in dets if family(d) == 'biological') or 'none'} (a clip's P(fake) "
        "= mean over its map windows; uncertainty of the per-pass clip probabilities). Blind: "
        f"{', '.join(blind) or 'none'}, trained from scratch on evenly spaced face crops, a "
        "clip's P(fake) and uncertainty = the mean over its frames. "
        + (f"The research's other blind detectors ({', '.join(others)}) take the same code path "
           "with another model name (VideoStudyConfig.detectors / --detectors). " if others
           else "")
        + "MC dropout throughout; intervals resample identities.\n\n" + "\n".join(lines)
        + f"\n\nClips scored: {n_clips}; time of this run (s; folds and caches reused from an "
          "earlier run take ~0): "
        + ", ".join(f"{k} {v:.0f}" for k, v in result.seconds.items()) + ".")
    sec_auc = Section(
        "video_detectors", "Detectors on SynthFaces video: per-generator AUC and epistemic "
        "uncertainty", text=text, figures=[str(f) for f in heat], order=order,
        tables={"per_generator_auc": auc.round(4), "epistemic": epi.round(4).reset_index(
            names="detector")},
        numbers={"detectors": dets, "seconds": result.seconds, "lines": lines,
                 "skipped": {d: len(s) for d, s in result.skipped.items()},
                 "auc": {f"{r.detector}/{r.generator}": [round(r.auc, 4), round(r.auc_lo, 4),
                                                         round(r.auc_hi, 4)]
                         for r in auc.itertuples()}})
    cal = calibration_table(scores, n_boot=n_boot, seed=seed)
    diff = family_ece_difference(scores, n_boot=n_boot, seed=seed)
    fam = pd.DataFrame([{"family": f, "ece": diff[f], "ece_lo": diff[f"{f}_lo"],
                         "ece_hi": diff[f"{f}_hi"], "n": diff["n_clips"]}
                        for f in ("biological", "blind") if f in diff])
    sec_cal = Section(
        "video_calibration", "Calibration of the video detectors: biological vs blind",
        text=("ECE of P(fake) (15 equal-width bins) per detector on its out-of-fold clips, and "
              "per family (the mean of its detectors' ECE on the clips every detector scored), "
              "with 95 % intervals resampling identities; the difference of the families is "
              "paired (both computed on each resample). " + verdict_text(diff)
              + chance_caveat(cal)),
        tables={"ece_by_detector": cal.round(4), "ece_by_family": fam.round(4)}, order=order + 1,
        numbers={"ece": {r.detector: [round(r.ece, 4), round(r.ece_lo, 4), round(r.ece_hi, 4)]
                         for r in cal.itertuples()},
                 "family": {k: (round(v, 4) if isinstance(v, float) else v)
                            for k, v in diff.items()}})
    sections = [sec_auc, sec_cal]
    fig, pngs, caption = example_maps(clips, result.map_dirs, figs / "video_maps")
    if fig is not None:
        sections.append(Section(
            "video_maps", "Example signal maps: a real clip beside its fake",
            text=("The first window of each clip's maps, as the map detectors read them: rows "
                  "are frames, the left half one column per face-grid cell (4 x 8) with the "
                  "signal z-scored, the right half each cell's power spectrum in 0.7-3 Hz; "
                  "channels as colours (PPG: CHROM, POS, GREEN; motion: dx, dy, magnitude of "
                  f"the flow minus the head's). Shown: {caption}."),
            figures=[str(fig)], order=order + 2,
            numbers={"pngs": [str(p) for p in pngs]}))
    return sections
