"""Everything ``fakescope metrics`` reports about a scores table.

Frame level: :func:`~fakescope.metrics.detection.detection_metrics` with bootstrap CIs for AUC,
EER and AP (clustered by video when frames share videos). Per source: AUC of each source's
fakes against all reals. Video level: the same metrics on per-video mean (or max / median)
P(fake), keyed by the unique ``video_id``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fakescope.metrics.detection import (
    average_precision,
    bootstrap_ci,
    detection_metrics,
    eer,
    roc_auc,
)

CI_METRICS = {"auc": roc_auc, "eer": eer, "ap": average_precision}


def _with_ci(y, s, *, threshold, n_boot, seed, clusters=None) -> dict[str, Any]:
    out: dict[str, Any] = detection_metrics(y, s, threshold=threshold).to_dict()
    if n_boot > 0:
        for name, fn in CI_METRICS.items():
            out[f"{name}_ci"] = list(bootstrap_ci(fn, y, s, n_boot=n_boot, seed=seed,
                                                  clusters=clusters))
    return out


def per_source_auc(scores: pd.DataFrame) -> dict[str, float]:
    """AUC of each fake source against every real sample: ``{source: auc}``."""
    if "source" not in scores.columns:
        return {}
    real = scores[scores["label"] == 0]
    out = {}
    for src, fakes in scores[scores["label"] == 1].groupby("source"):
        both = pd.concat([real, fakes])
        out[str(src)] = roc_auc(both["label"], both["p_fake"])
    return out


def has_videos(scores: pd.DataFrame) -> bool:
    return "video_id" in scores.columns and scores["video_id"].nunique() < len(scores)


def summarize_scores(scores: pd.DataFrame, *, threshold: float = 0.5, n_boot: int = 1000,
                     seed: int = 0, video_how: str = "mean") -> dict[str, Any]:
    """``{"frame": {...}, "per_source_auc": {...}, "video": {...} | None}``."""
    videos = scores["video_id"].to_numpy() if has_videos(scores) else None
    out: dict[str, Any] = {
        "frame": _with_ci(scores["label"].to_numpy(), scores["p_fake"].to_numpy(),
                          threshold=threshold, n_boot=n_boot, seed=seed, clusters=videos),
        "per_source_auc": per_source_auc(scores),
        "video": None,
    }
    if videos is not None:
        from fakescope.metrics.video import aggregate_videos

        v = aggregate_videos(scores, how=video_how)
        out["video"] = {"aggregation": video_how, "n_videos": len(v),
                        **_with_ci(v["label"].to_numpy(), v["p_fake"].to_numpy(),
                                   threshold=threshold, n_boot=n_boot, seed=seed)}
    return out


def flat_table(summary: dict[str, Any]) -> pd.DataFrame:
    """A two-level table (level, metric, value) of a summary, for printing."""
    rows = []
    for level in ("frame", "video"):
        block = summary.get(level)
        if not block:
            continue
        for k, v in block.items():
            if k.endswith("_ci") or k == "aggregation":
                continue
            ci = block.get(f"{k}_ci")
            rows.append({"level": level, "metric": k, "value": v,
                         "ci": "" if ci is None else f"[{ci[0]:.4f}, {ci[1]:.4f}]"})
    for src, auc in summary.get("per_source_auc", {}).items():
        rows.append({"level": "source", "metric": f"auc[{src}]", "value": auc, "ci": ""})
    return pd.DataFrame(rows)


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if np.isnan(v) else f"{v:.4f}"
    return str(v)
