"""Seed replicates of the difficulty calibration: per-generator statistics over several
``fakescope study difficulty`` runs that differ only in ``--seed``.

A single run's intervals cover test-set sampling only; a new seed also draws a new benchmark and
a new training, and moves a generator's AUC by a few hundredths. Whether a leave-one-out drop is
real is therefore judged across seeds: the mean drop over ``n`` runs with the t interval
``mean ± t_{0.975, n-1} · sd / sqrt(n)`` (runs as independent replicates), and the count of runs
whose own paired interval lies above zero.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from fakescope.config import parse_override
from fakescope.errors import ConfigError, DataError
from fakescope.experiments.difficulty.stats import TARGET


def _training_settings(record: dict) -> dict:
    """The study's training settings (dotted keys) from its ``training.json``: ``settings``, or,
    in folders written before the run step, the ``overrides`` texts (later ones win)."""
    if "settings" in record:
        return dict(record["settings"])
    out = {}
    for text in record["overrides"]:
        keys, value = parse_override(text)
        out[".".join(keys)] = value
    return out


def _read_run(folder: Path) -> tuple[pd.DataFrame, list[str], str]:
    """``(difficulty table, settings without the seed, seed)`` of one run folder. The settings
    are the training settings plus the benchmark options, as ``key=value`` texts with JSON
    values (``synth_version`` included), so runs on benchmarks of another size or SynthFaces
    version do not mix."""
    csv, settings = folder / "difficulty.csv", folder / "training.json"
    bench = folder / "benchmark" / "synth_config.json"
    hint = f"run fakescope study difficulty --out {folder} first"
    if not csv.is_file() or not settings.is_file() or not bench.is_file():
        raise DataError(f"{folder} is not a finished difficulty run (no difficulty.csv, "
                        "training.json or benchmark/synth_config.json)", hint=hint)
    try:
        table = pd.read_csv(csv)
        training = _training_settings(json.loads(settings.read_text()))
        options = {k: v for k, v in json.loads(bench.read_text()).items() if k != "seed"}
    except (ValueError, KeyError, TypeError, AttributeError, ConfigError,
            pd.errors.ParserError) as exc:
        raise DataError(f"{folder}: unreadable difficulty.csv, training.json or "
                        f"benchmark/synth_config.json: {exc}", hint=hint) from exc
    texts = [*(f"{k}={json.dumps(v, sort_keys=True)}" for k, v in sorted(training.items())),
             *(f"benchmark.{k}={json.dumps(v, sort_keys=True)}" for k, v in sorted(options.items()))]
    missing = {"generator", "auc_in", "auc_logo", "drop", "drop_lo"} - set(table.columns)
    if missing:
        raise DataError(f"{csv} lacks columns {sorted(missing)}", hint=hint)
    seeds = [t for t in texts if t.startswith("train.seed=")]
    return table, [t for t in texts if t not in seeds], ",".join(seeds) or "default"


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """``mean ± t_{(1+level)/2, n-1} · sd / sqrt(n)`` of ``values``; NaN for fewer than two."""
    v = np.asarray(values, float)
    if len(v) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf((1 + level) / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean() - half), float(v.mean() + half)


def combine_runs(folders: Sequence[str | Path]) -> pd.DataFrame:
    """Per-generator summary over difficulty runs that differ only in their seed.

    Columns: ``generator, runs_in, auc_in_mean, auc_in_min, auc_in_max, runs_in_band, runs_logo,
    drop_mean, drop_mean_lo, drop_mean_hi`` (t interval over runs), ``drop_min, drop_max,
    runs_drop_above_zero`` (runs whose paired interval excludes zero). Generators in the order
    of the first run; a generator missing from a run, or without a LOGO training there, only
    counts where it was measured.
    """
    if not folders:
        raise ConfigError("no run folders given", hint="pass two or more difficulty run folders")
    runs = [(Path(f), *_read_run(Path(f))) for f in folders]
    first_folder, _, first_settings, _ = runs[0]
    seen: dict[str, Path] = {}
    for folder, _, settings, seed in runs:
        if settings != first_settings:
            diff = sorted(set(settings) ^ set(first_settings))
            raise ConfigError(f"{folder} was trained with other settings than {first_folder} "
                              f"({', '.join(diff)})", hint="combine runs that differ only in --seed")
        if seed in seen:
            raise ConfigError(f"{folder} and {seen[seed]} have the same seed ({seed})",
                              hint="a replicate needs its own --seed")
        seen[seed] = folder
    long = pd.concat([t.assign(run=i) for i, (_, t, _, _) in enumerate(runs)], ignore_index=True)
    order = list(dict.fromkeys(long["generator"]))
    rows = []
    for g in order:
        part = long[long["generator"] == g]
        auc_in = part["auc_in"].dropna().to_numpy()
        logo = part.dropna(subset=["drop"])
        drops = logo["drop"].to_numpy(float)
        lo, hi = t_interval(drops)
        rows.append({
            "generator": g, "runs_in": len(auc_in),
            "auc_in_mean": auc_in.mean(), "auc_in_min": auc_in.min(), "auc_in_max": auc_in.max(),
            "runs_in_band": int(((auc_in >= TARGET[0]) & (auc_in <= TARGET[1])).sum()),
            "runs_logo": len(drops),
            "drop_mean": drops.mean() if len(drops) else float("nan"),
            "drop_mean_lo": lo, "drop_mean_hi": hi,
            "drop_min": drops.min() if len(drops) else float("nan"),
            "drop_max": drops.max() if len(drops) else float("nan"),
            "runs_drop_above_zero": int((logo["drop_lo"] > 0).sum()),
        })
    return pd.DataFrame(rows)


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as Markdown, three decimals."""
    lines = ["| generator | in-domain AUC mean [min, max] | in band | LOGO runs | "
             "drop mean [95% t CI] | drop [min, max] | paired CI > 0 |",
             "|---|---|---:|---:|---|---|---:|"]
    for _, r in summary.iterrows():
        if r["runs_logo"]:
            ci = ("" if np.isnan(r["drop_mean_lo"]) else
                  f" [{r['drop_mean_lo']:+.3f}, {r['drop_mean_hi']:+.3f}]")
            drop = f"{r['drop_mean']:+.3f}{ci}"
            span = f"[{r['drop_min']:+.3f}, {r['drop_max']:+.3f}]"
            above = f"{r['runs_drop_above_zero']}/{r['runs_logo']}"
        else:
            drop = span = above = "—"
        lines.append(f"| {r['generator']} | {r['auc_in_mean']:.3f} [{r['auc_in_min']:.3f}, "
                     f"{r['auc_in_max']:.3f}] | {r['runs_in_band']}/{r['runs_in']} | "
                     f"{r['runs_logo']} | {drop} | {span} | {above} |")
    return "\n".join(lines)
