"""Fairness audit of a scores table: per-group rates, gap metrics and bootstrap intervals.

Inputs are a scores table (``label`` 0 real / 1 fake, ``p_fake``) and one or more group columns.
Predictions are ``y_hat = 1[p_fake >= threshold]`` (threshold 0.5 by default, "fake" = positive).

Per group ``g`` (rates are fractions in [0, 1], NaN where undefined)::

    TPR_g = TP/P   FNR_g = FN/P   FPR_g = FP/N   TNR_g = TN/N
    acc_g = (TP+TN)/n_g           pr_g = (TP+FP)/n_g       auc_g = ROC AUC on p_fake

Gaps (as PG-FDD's ``fairness_metrics.py``; reported x100), over the *judged* groups ``J``::

    F_FPR  = max_J FPR - min_J FPR
    F_OAE  = max_J acc - min_J acc
    F_DP   = max_J pr  - min_J pr
    F_MEO  = max over r in {FPR, FNR, TNR, TPR} of (max_J r - min_J r)
    AUC_gap = max_J auc - min_J auc
    F_EFPR = sum_J |FPR_g - FPR_all|
    F_EO   = sum_J (|FPR_g - FPR_all| + |TPR_g - TPR_all|)
    F_G    = max_J |pr_g - pr_all|

``*_all`` are computed on every row of the grouping (small groups included). A group is judged
when it has at least ``min_group_size`` rows; smaller groups are still reported (flag ``small``)
but left out of every gap, and the grouping's ``warnings`` list says so. A rate that is
undefined in a judged group (e.g. FPR of a group without real samples) is skipped for that
metric, with a warning. Fewer than two judged groups give NaN gaps.

Groups with one label only (no reals, or no fakes): ``single_label="rate"`` (ours, the
default) keeps such a group in every gap whose rate it defines (its accuracy, positive rate,
TPR or FPR) and skips it only where its rate is undefined; ``single_label="drop"`` is PG-FDD's
convention (its ``classification_metrics`` fails on a one-class group, which then has no
metrics at all): the group is left out of every gap.

Bootstrap: ``n_boot`` resamples of the grouping's *clusters* (:mod:`fakescope.metrics.bootstrap`:
identity when the table has one in every row, else video id, else row; ``unit`` picks another),
drawn with replacement over the whole set (not within groups), seeded; each resample recomputes
every gap over the same judged groups. Gap intervals are ``centred`` percentile intervals (a
max-min over groups is biased upward under resampling, so a plain percentile interval can miss
its own estimate; see :func:`fakescope.metrics.bootstrap.interval`) and the bootstrap bias of
each gap is reported (``gaps_bias``); per-group and overall rates get plain percentile
intervals. Resampling is done with integer weights (counts), which is exactly the same as
recomputing on the repeated rows.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fakescope.errors import ConfigError, DataError
from fakescope.metrics.bootstrap import Clusters, cluster_weights, interval, resampling_unit
from fakescope.metrics.bootstrap import bias as bootstrap_bias

RATES = ("tpr", "fpr", "tnr", "fnr", "acc", "pr")
GAP_NAMES = ("F_FPR", "F_OAE", "F_DP", "F_MEO", "AUC_gap", "F_EFPR", "F_EO", "F_G")
DEFAULT_MIN_GROUP_SIZE = 30
_MAX_CELLS = 4_000_000  # bootstrap chunk size (resamples x rows) to bound memory
SINGLE_LABEL = ("rate", "drop")


# Overall positive rate at or beyond which (or 1 - it) threshold-based gaps are flagged.
SATURATED_PR = 0.95


class SmallGroupWarning(UserWarning):
    """A group has fewer rows than ``min_group_size``: reported but left out of the gaps."""


@dataclass
class GroupStats:
    """Counts and rates of one group (rates are fractions; NaN where undefined)."""

    n: int
    n_real: int
    n_fake: int
    auc: float
    tpr: float
    fpr: float
    tnr: float
    fnr: float
    acc: float
    pr: float
    small: bool = False
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {k: _num(getattr(self, k)) for k in ("n", "auc", "tpr", "fpr", "tnr", "fnr", "acc",
                                                 "pr", "n_real", "n_fake")}
        d["small"] = bool(self.small)
        if self.ci:
            d["ci"] = {k: [_num(a), _num(b)] for k, (a, b) in self.ci.items()}
        return d


@dataclass
class GroupingReport:
    """One grouping (e.g. ``gender`` or ``gender*race``): its groups, gaps (x100) and CIs."""

    name: str
    columns: list[str]
    groups: dict[str, GroupStats]
    overall: GroupStats
    gaps: dict[str, float]
    gaps_ci: dict[str, tuple[float, float]]
    judged: list[str]
    warnings: list[str]
    n_missing: int = 0
    gaps_bias: dict[str, float] = field(default_factory=dict)
    unit: str = "row"  # what the bootstrap resampled, e.g. "identity (120 clusters)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "groups": {g: s.to_dict() for g, s in self.groups.items()},
            "overall": self.overall.to_dict(),
            "gaps": {k: _num(v) for k, v in self.gaps.items()},
            "gaps_ci": {k: [_num(a), _num(b)] for k, (a, b) in self.gaps_ci.items()},
            "judged_groups": list(self.judged),
            "small_groups": [g for g, s in self.groups.items() if s.small],
            "gaps_bias": {k: _num(v) for k, v in self.gaps_bias.items()},
            "resampled": self.unit,
            "n_missing": int(self.n_missing),
            "warnings": list(self.warnings),
        }

    def groups_frame(self) -> pd.DataFrame:
        """One row per group: n, n_real, n_fake, auc, rates, small."""
        rows = [{"group": g, **{k: getattr(s, k) for k in ("n", "n_real", "n_fake", "auc",
                                                           *RATES, "small")}}
                for g, s in self.groups.items()]
        return pd.DataFrame(rows)

    def gaps_frame(self) -> pd.DataFrame:
        """One row per gap metric: value, ci_low, ci_high, bias (x100)."""
        return pd.DataFrame([{"metric": k, "value": v,
                              "ci_low": self.gaps_ci.get(k, (math.nan, math.nan))[0],
                              "ci_high": self.gaps_ci.get(k, (math.nan, math.nan))[1],
                              "bias": self.gaps_bias.get(k, math.nan)}
                             for k, v in self.gaps.items()])


@dataclass
class FairnessReport:
    """Every grouping asked for, plus the options used. ``to_dict()`` is keyed by grouping."""

    groupings: dict[str, GroupingReport]
    threshold: float
    min_group_size: int
    n_boot: int
    ci: float
    seed: int
    n: int
    single_label: str = "rate"

    def to_dict(self) -> dict[str, Any]:
        """``{grouping: {"groups": {name: {n, auc, tpr, ...}}, "gaps": {F_FPR, ...}, ...}}``.

        Options are repeated in each grouping under ``"settings"`` so the top level holds only
        grouping names.
        """
        settings = {"threshold": self.threshold, "min_group_size": self.min_group_size,
                    "n_boot": self.n_boot, "ci": self.ci, "seed": self.seed, "n": self.n,
                    "single_label": self.single_label}
        return {name: {**g.to_dict(), "settings": settings} for name, g in self.groupings.items()}

    def gaps_frame(self) -> pd.DataFrame:
        """All groupings' gaps in one long table (grouping, metric, value, ci_low, ci_high)."""
        frames = [g.gaps_frame().assign(grouping=name) for name, g in self.groupings.items()]
        df = pd.concat(frames, ignore_index=True)
        return df[["grouping", "metric", "value", "ci_low", "ci_high", "bias"]]


def _num(x: Any) -> Any:
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    return x if math.isfinite(x) else None


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Rates from counts ``(..., 4)`` ordered (TN, FP, FN, TP) = index ``2*y + y_hat``."""
    tn, fp, fn, tp = (counts[..., i] for i in range(4))
    pos, neg = tp + fn, tn + fp
    n = pos + neg
    return {"tpr": _div(tp, pos), "fnr": _div(fn, pos), "fpr": _div(fp, neg),
            "tnr": _div(tn, neg), "acc": _div(tp + tn, n), "pr": _div(tp + fp, n),
            "n": n, "pos": pos, "neg": neg}


def _weighted_auc(w: np.ndarray, y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """ROC AUC of scores ``s`` (n,) for labels ``y`` (n,) under weights ``w`` (B, n) -> (B,).

    Mann-Whitney form with ties counted 1/2 (same as ``sklearn.metrics.roc_auc_score`` with
    ``sample_weight``); NaN where a resample has no positive or no negative weight.
    """
    if len(s) == 0:
        return np.full(w.shape[0], np.nan)
    order = np.argsort(s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    ws = w[:, order]
    posw = np.add.reduceat(ws * (y_sorted == 1), starts, axis=1)
    negw = np.add.reduceat(ws * (y_sorted == 0), starts, axis=1)
    below = np.cumsum(negw, axis=1) - negw
    num = (posw * (below + 0.5 * negw)).sum(axis=1)
    return _div(num, posw.sum(axis=1) * negw.sum(axis=1))


def _spread(values: np.ndarray) -> np.ndarray:
    """``max - min`` over the last axis ignoring NaN; NaN when fewer than 2 finite values."""
    if values.shape[-1] == 0:  # no group large enough to judge
        return np.full(values.shape[:-1], np.nan)
    finite = np.isfinite(values)
    enough = finite.sum(axis=-1) >= 2
    hi = np.where(finite, values, -np.inf).max(axis=-1)
    lo = np.where(finite, values, np.inf).min(axis=-1)
    return np.where(enough, hi - lo, np.nan)


def _gaps(r: dict[str, np.ndarray], r_all: dict[str, np.ndarray], auc: np.ndarray,
          judged: np.ndarray) -> dict[str, np.ndarray]:
    """Gap metrics (x100) from per-group rates ``(B, G)``, overall rates ``(B,)``."""
    j = {k: r[k][:, judged] for k in (*RATES,)}
    fpr_dev = np.abs(j["fpr"] - r_all["fpr"][:, None])
    tpr_dev = np.abs(j["tpr"] - r_all["tpr"][:, None])
    pr_dev = np.abs(j["pr"] - r_all["pr"][:, None])
    enough = judged.sum() >= 2
    nan = np.full(auc.shape[0], np.nan)
    out = {
        "F_FPR": _spread(j["fpr"]),
        "F_OAE": _spread(j["acc"]),
        "F_DP": _spread(j["pr"]),
        "F_MEO": np.fmax.reduce([_spread(j[k]) for k in ("fpr", "fnr", "tnr", "tpr")]),
        "AUC_gap": _spread(auc[:, judged]),
        "F_EFPR": np.nansum(fpr_dev, axis=1) if enough else nan,
        "F_EO": np.nansum(fpr_dev + tpr_dev, axis=1) if enough else nan,
        "F_G": np.nanmax(np.where(np.isfinite(pr_dev), pr_dev, -np.inf), axis=1) if enough else nan,
    }
    return {k: 100.0 * np.where(np.isfinite(v), v, np.nan) for k, v in out.items()}


def _stats_from_weights(w: np.ndarray, y: np.ndarray, yhat: np.ndarray, s: np.ndarray,
                        codes: np.ndarray, n_groups: int):
    """Per-group counts/rates/AUC for weights ``w`` (B, n). Returns (rates, rates_all, auc)."""
    cell = codes * 4 + 2 * y + yhat
    onehot = np.zeros((len(y), n_groups * 4))
    onehot[np.arange(len(y)), cell] = 1.0
    counts = (w @ onehot).reshape(w.shape[0], n_groups, 4)
    r = _rates(counts)
    r_all = _rates(counts.sum(axis=1))
    auc = np.stack([_weighted_auc(w[:, codes == g], y[codes == g], s[codes == g])
                    for g in range(n_groups)], axis=1)
    return r, r_all, auc


def group_key(df: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Group label per row: values of ``columns`` joined by ``*``; NaN where any is missing."""
    parts = []
    missing = np.zeros(len(df), dtype=bool)
    for c in columns:
        col = df[c]
        miss = col.isna().to_numpy() | (col.astype(str).str.strip() == "").to_numpy()
        missing |= miss
        parts.append(col.astype(str).str.strip())
    key = parts[0]
    for p in parts[1:]:
        key = key + "*" + p
    return key.where(~missing, other=np.nan)


def _check_options(threshold: float, min_group_size: int, n_boot: int, ci: float) -> None:
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold {threshold} is not in [0, 1]", hint="a threshold on p_fake")
    if min_group_size < 1:
        raise ConfigError(f"min_group_size {min_group_size} must be >= 1")
    if n_boot < 0:
        raise ConfigError(f"n_boot {n_boot} must be >= 0", hint="0 disables the bootstrap")
    if not 0.0 < ci < 1.0:
        raise ConfigError(f"ci {ci} must be in (0, 1)", hint="e.g. 0.95")


def _grouping_specs(df: pd.DataFrame, groups: list[str], intersect: bool) -> list[list[str]]:
    specs = [[c.strip() for c in g.split("*")] for g in groups]
    singles = [s[0] for s in specs if len(s) == 1]
    if intersect and len(singles) >= 2:
        specs.append(singles)
    origin = df.attrs.get("origin", "<scores>")
    for spec in specs:
        for c in spec:
            if c not in df.columns:
                raise DataError(f"no group column {c!r}", path=origin,
                                hint=f"columns are {', '.join(map(str, df.columns))}; join "
                                "attributes with fakescope.data.demographics.join_attributes")
    seen, out = set(), []
    for spec in specs:
        key = "*".join(spec)
        if key not in seen:
            seen.add(key)
            out.append(spec)
    return out


def _audit_grouping(y, s, yhat, key: pd.Series, columns: list[str], *, min_group_size: int,
                    n_boot: int, ci: float, rng: np.random.Generator, clusters: Clusters,
                    single_label: str = "rate") -> GroupingReport:
    name = "*".join(columns)
    valid = key.notna().to_numpy()
    notes = []
    n_missing = int((~valid).sum())
    if n_missing:
        notes.append(f"{n_missing} row(s) without a value for {name} left out")
    y, s, yhat = y[valid], s[valid], yhat[valid]
    clusters = clusters.subset(valid)
    labels, codes = np.unique(key[valid].astype(str).to_numpy(), return_inverse=True)
    n_groups = len(labels)
    r, r_all, auc = _stats_from_weights(np.ones((1, len(y))), y, yhat, s, codes, n_groups)
    sizes = r["n"][0]
    judged = sizes >= min_group_size
    for g in np.flatnonzero(~judged):
        msg = (f"{name}={labels[g]}: {int(sizes[g])} row(s) < min_group_size {min_group_size}; "
               "reported but left out of the gaps")
        notes.append(msg)
        warnings.warn(msg, SmallGroupWarning, stacklevel=3)
    one_label = judged & ((r["pos"][0] == 0) | (r["neg"][0] == 0))
    if single_label == "drop":
        for g in np.flatnonzero(one_label):
            notes.append(f"{name}={labels[g]}: one label only; left out of every gap "
                         "(single_label='drop', PG-FDD's convention)")
        judged = judged & ~one_label
    if judged.sum() < 2:
        notes.append(f"{name}: fewer than 2 groups with >= {min_group_size} rows; gaps are NaN")
    for k in ("fpr", "tpr", "auc"):
        vals = auc[0] if k == "auc" else r[k][0]
        for g in np.flatnonzero(judged & ~np.isfinite(vals)):
            notes.append(f"{name}={labels[g]}: {k} undefined (no "
                         f"{'real' if k == 'fpr' else 'fake' if k == 'tpr' else 'real or fake'} "
                         "rows); skipped in that gap")
    pr_all = float(r_all["pr"][0]) if len(y) else float("nan")
    if pr_all >= SATURATED_PR or pr_all <= 1 - SATURATED_PR:
        notes.append(f"{name}: {pr_all:.0%} of all rows are called fake at this threshold; "
                     "threshold-based gaps (F_FPR, F_OAE, F_DP, F_MEO, ...) shrink towards 0 by "
                     "saturation, not fairness (compare AUC_gap, or set the threshold on the "
                     "target data)")
    gaps = {k: float(v[0]) for k, v in _gaps(r, r_all, auc, judged).items()}

    gaps_ci: dict[str, tuple[float, float]] = {}
    gaps_bias: dict[str, float] = {}
    group_ci: list[dict[str, tuple[float, float]]] = [{} for _ in range(n_groups)]
    overall_ci: dict[str, tuple[float, float]] = {}
    if n_boot > 0 and len(y) > 0:
        boot_gaps = {k: [] for k in GAP_NAMES}
        boot_rates = {k: [] for k in ("auc", "tpr", "fpr", "acc")}
        boot_overall = {k: [] for k in boot_rates}
        chunk = max(1, _MAX_CELLS // max(1, len(y)))
        done = 0
        while done < n_boot:
            b = min(chunk, n_boot - done)
            w = cluster_weights(clusters, b, rng)
            rb, rb_all, aucb = _stats_from_weights(w, y, yhat, s, codes, n_groups)
            for k, v in _gaps(rb, rb_all, aucb, judged).items():
                boot_gaps[k].append(v)
            for k in boot_rates:
                boot_rates[k].append(aucb if k == "auc" else rb[k])
                over = _weighted_auc(w, y, s) if k == "auc" else rb_all[k]
                boot_overall[k].append(over)
            done += b
        for k, parts in boot_gaps.items():
            reps = np.concatenate(parts)
            gaps_ci[k] = interval(reps, ci=ci, method="centred", estimate=gaps[k],
                                  bounds=(0.0, np.inf))
            gaps_bias[k] = bootstrap_bias(reps, gaps[k])
        for k, parts in boot_rates.items():
            arr = np.concatenate(parts, axis=0)
            for g in range(n_groups):
                group_ci[g][k] = interval(arr[:, g], ci=ci)
            overall_ci[k] = interval(np.concatenate(boot_overall[k]), ci=ci)

    def stats(i: int | None) -> GroupStats:
        if i is None:
            rr = {k: r_all[k][0] for k in (*RATES, "n", "pos", "neg")}
            a = float(_weighted_auc(np.ones((1, len(y))), y, s)[0])
            return GroupStats(int(rr["n"]), int(rr["neg"]), int(rr["pos"]), a,
                              *(float(rr[k]) for k in RATES), ci=overall_ci)
        return GroupStats(int(sizes[i]), int(r["neg"][0][i]), int(r["pos"][0][i]),
                          float(auc[0][i]), *(float(r[k][0][i]) for k in RATES),
                          small=bool(not judged[i]), ci=group_ci[i])

    return GroupingReport(name=name, columns=list(columns),
                          groups={str(labels[i]): stats(i) for i in range(n_groups)},
                          overall=stats(None), gaps=gaps, gaps_ci=gaps_ci,
                          judged=[str(labels[i]) for i in np.flatnonzero(judged)],
                          warnings=notes, n_missing=n_missing, gaps_bias=gaps_bias,
                          unit=clusters.describe())


def fairness_report(scores: pd.DataFrame, *, groups: list[str], intersect: bool = True,
                    threshold: float = 0.5, min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
                    n_boot: int = 1000, ci: float = 0.95, seed: int = 0, unit: str = "auto",
                    single_label: str = "rate") -> FairnessReport:
    """Audit a scores table by demographic group.

    Args:
        scores: table with ``label`` (0/1), ``p_fake`` in [0, 1] and the group columns.
        groups: group columns (``"gender"``) or intersections (``"gender*race"``).
        intersect: also audit the intersection of all single columns in ``groups``.
        threshold: ``y_hat = 1[p_fake >= threshold]``.
        min_group_size: groups with fewer rows are flagged ``small``, warned about
            (:class:`SmallGroupWarning`) and left out of the gaps.
        n_boot: bootstrap resamples for the intervals (0 = none).
        ci: interval level. seed: seed of the bootstrap.
        unit: what the bootstrap resamples (:func:`fakescope.metrics.bootstrap.resampling_unit`:
            ``auto`` = identity, else video_id, else row; or a column name, or ``row``).
        single_label: ``rate`` (ours) or ``drop`` (PG-FDD's): how a group with only reals or
            only fakes enters the gaps (see the module doc).

    Returns:
        :class:`FairnessReport`; rates are fractions, gaps are x100.
    """
    _check_options(threshold, min_group_size, n_boot, ci)
    if single_label not in SINGLE_LABEL:
        raise ConfigError(f"single_label={single_label!r}",
                          hint="use rate (ours) or drop (PG-FDD's convention)")
    if not groups:
        raise ConfigError("no group columns given", hint="e.g. groups=['gender', 'race']")
    origin = scores.attrs.get("origin", "<scores>")
    for c in ("label", "p_fake"):
        if c not in scores.columns:
            raise DataError(f"no {c} column", path=origin)
    y = scores["label"].to_numpy().astype(np.int64)
    if not np.isin(y, (0, 1)).all():
        raise DataError("label must be 0 (real) or 1 (fake)", path=origin)
    s = scores["p_fake"].to_numpy().astype(np.float64)
    if not (np.isfinite(s).all() and (s >= 0).all() and (s <= 1).all()):
        raise DataError("p_fake must be finite and in [0, 1]", path=origin)
    yhat = (s >= threshold).astype(np.int64)
    specs = _grouping_specs(scores, list(groups), intersect)
    clusters = resampling_unit(scores, unit=unit)
    out = {}
    for k, spec in enumerate(specs):
        key = group_key(scores, spec)
        rng = np.random.default_rng([seed, k])
        out["*".join(spec)] = _audit_grouping(y, s, yhat, key, spec,
                                              min_group_size=min_group_size, n_boot=n_boot,
                                              ci=ci, rng=rng, clusters=clusters,
                                              single_label=single_label)
    return FairnessReport(groupings=out, threshold=float(threshold),
                          min_group_size=int(min_group_size), n_boot=int(n_boot), ci=float(ci),
                          seed=int(seed), n=len(scores), single_label=single_label)
