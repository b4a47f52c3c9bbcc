"""Controls of the video benchmark's difficulty: how far does one trivial cue get per generator?

Two blind controls, each a logistic regression on two standardised per-clip features:

- **global heart rate only**: the POS heart rate of the face mean and its SNR
  (:func:`fakescope.signals.pipeline.extract_signals`);
- **frame-difference energy**: log mean and log std over time of the mean squared grey-level
  change inside the face between consecutive frames
  (:func:`fakescope.signals.motion.frame_difference_energy`).

Per generator ``g`` the classifier separates the real clips from ``g``'s fakes; scores are
out of fold (grouped ``k``-fold by identity, so no person is both trained and scored) and the
AUC's 95 % interval resamples identities. If either control reaches AUC > 0.95 on *every*
generator the benchmark is too easy (:func:`verdict`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fakescope.data.manifest import resolve_path
from fakescope.data.video_stream import read_clip
from fakescope.errors import DataError
from fakescope.metrics.detection import bootstrap_ci, roc_auc
from fakescope.signals.motion import frame_difference_energy
from fakescope.signals.pipeline import load_landmarks

#: control name -> its feature columns
CONTROLS = {"heart_rate": ("hr_pos_bpm", "snr_pos_db"),
            "frame_difference": ("fde_log_mean", "fde_log_std")}
TOO_EASY = 0.95


def frame_difference_features(manifest: pd.DataFrame, *,
                              progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """``sample_id, fde_log_mean, fde_log_std`` per clip (landmarks from ``landmarks_path``)."""
    rows = []
    for n, r in enumerate(manifest.itertuples(index=False)):
        path = resolve_path(manifest, r.path)
        clip = read_clip(path)
        lm = load_landmarks(resolve_path(manifest, r.landmarks_path))
        k = min(len(lm), len(clip.frames))
        e = frame_difference_energy(clip.frames[:k], lm[:k])
        e = np.log(e[np.isfinite(e)] + 1e-3)
        if not len(e):
            raise DataError("no frame with a face to measure frame differences", path=path)
        rows.append({"sample_id": r.sample_id, "fde_log_mean": float(e.mean()),
                     "fde_log_std": float(e.std())})
        if progress:
            progress(n + 1, len(manifest))
    return pd.DataFrame(rows)


def _oof_scores(x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int) -> np.ndarray:
    k = min(folds, len(np.unique(groups)))
    out = np.full(len(y), np.nan)
    for tr, te in GroupKFold(n_splits=k).split(x, y, groups):
        if len(np.unique(y[tr])) < 2:
            continue
        model = make_pipeline(StandardScaler(), LogisticRegression())
        model.fit(x[tr], y[tr])
        out[te] = model.predict_proba(x[te])[:, 1]
    return out


def control_aucs(features: pd.DataFrame, *, folds: int = 5, n_boot: int = 500,
                 seed: int = 0) -> pd.DataFrame:
    """AUC of each control per generator (and per temporal mode): columns ``control,
    generator, mode, n_real, n_fake, auc, auc_lo, auc_hi``.

    ``features``: one row per clip with ``label, source, identity, temporal_mode`` and the
    CONTROLS columns; rows with a missing feature are dropped (counted in ``n_*``).
    """
    reals = features[features["label"] == 0]
    rows = []
    for control, cols in CONTROLS.items():
        for g in sorted(features.loc[features["label"] == 1, "source"].unique()):
            fakes = features[features["source"] == g]
            modes = ["all"] + sorted(m for m in fakes["temporal_mode"].dropna().unique() if m)
            for mode in modes:
                f = fakes if mode == "all" else fakes[fakes["temporal_mode"] == mode]
                d = pd.concat([reals, f]).dropna(subset=list(cols))
                y = d["label"].to_numpy(int)
                if len(np.unique(y)) < 2:
                    continue
                groups = d["identity"].to_numpy()
                s = _oof_scores(d[list(cols)].to_numpy(float), y, groups, folds)
                ok = np.isfinite(s)
                auc = roc_auc(y[ok], s[ok])
                lo, hi = bootstrap_ci(roc_auc, y[ok], s[ok], n_boot=n_boot, seed=seed,
                                      clusters=groups[ok])
                rows.append({"control": control, "generator": g, "mode": mode,
                             "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()),
                             "auc": auc, "auc_lo": lo, "auc_hi": hi})
    return pd.DataFrame(rows)


def verdict(aucs: pd.DataFrame) -> dict[str, bool]:
    """control -> True when it reaches AUC > TOO_EASY on every generator (all modes pooled)."""
    pooled = aucs[aucs["mode"] == "all"]
    return {c: bool((g["auc"] > TOO_EASY).all()) for c, g in pooled.groupby("control")}


def control_features(manifest: pd.DataFrame, signals: pd.DataFrame, **kw) -> pd.DataFrame:
    """Manifest columns + the heart-rate features of ``signals`` (extract_signals' table) + the
    frame-difference features."""
    keep = ["sample_id", "label", "source", "identity", "domain", "split", "temporal_mode"]
    base = manifest[[c for c in keep if c in manifest]].copy()
    if "temporal_mode" not in base:
        base["temporal_mode"] = ""
    hr = signals[["sample_id", *CONTROLS["heart_rate"]]]
    fde = frame_difference_features(manifest, **kw)
    return base.merge(hr, on="sample_id", how="left").merge(fde, on="sample_id", how="left")


def write_controls(aucs: pd.DataFrame, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    aucs.to_csv(out, index=False)
    return out
