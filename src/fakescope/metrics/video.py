"""Video-level scores: aggregate frame (or face-crop) scores by the globally unique video id.

``p_fake(video) = agg_{rows r of the video} p_fake(r)`` with ``agg`` = mean (default, as
DeepfakeBench's video AUC), median or max. Feed the result to any frame-level metric
(AUC, EER, AP) to get its video-level counterpart.
"""

from __future__ import annotations

import pandas as pd

from fakescope.errors import ConfigError, DataError

AGGREGATIONS = ("mean", "median", "max")


def aggregate_videos(scores: pd.DataFrame, *, how: str = "mean",
                     video_col: str = "video_id") -> pd.DataFrame:
    """One row per video: ``video_id, label, p_fake, n_frames`` + every column constant
    within each video (``source``, ``split``, ``identity``, group columns ...).

    ``scores``: a scores table (``label``, ``p_fake``, ``video_col``). Rows without a video id
    count as their own video (``sample_id``). DataError when a video mixes labels, naming it.
    Output rows are sorted by video id.
    """
    if how not in AGGREGATIONS:
        raise ConfigError(f"how={how!r}", hint=f"use one of {', '.join(AGGREGATIONS)}")
    for col in ("label", "p_fake"):
        if col not in scores.columns:
            raise DataError(f"scores have no {col!r} column", path=scores.attrs.get("origin"))
    df = scores.copy()
    if video_col not in df.columns:
        if "sample_id" not in df.columns:
            raise DataError(f"scores have neither {video_col!r} nor 'sample_id'")
        df[video_col] = df["sample_id"]
    vid = df[video_col].astype("string")
    if "sample_id" in df.columns:
        vid = vid.fillna(df["sample_id"].astype("string"))
    df[video_col] = vid.astype(str)
    g = df.groupby(video_col, sort=True)
    n_labels = g["label"].nunique()
    mixed = n_labels[n_labels > 1]
    if len(mixed):
        raise DataError(f"video {mixed.index[0]!r} has both real and fake rows "
                        f"({len(mixed)} such video(s))", path=scores.attrs.get("origin"),
                        hint="video ids must be unique per clip and method")
    out = pd.DataFrame({
        video_col: g.size().index,
        "label": g["label"].first().to_numpy().astype(int),
        "p_fake": getattr(g["p_fake"], how)().to_numpy(dtype=float),
        "n_frames": g.size().to_numpy(),
    })
    skip = {video_col, "label", "p_fake", "sample_id", "frame", "path"}
    skip |= {c for c in df.columns if c.startswith(("logit_", "unc_"))}
    keep = [c for c in df.columns if c not in skip]
    if keep:
        const = g[keep].nunique(dropna=False).le(1).all()
        cols = [c for c in keep if const[c]]
        if cols:
            firsts = g[cols].first().reset_index(drop=True)
            out = pd.concat([out, firsts], axis=1)
    return out
