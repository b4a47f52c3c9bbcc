"""Common report plots (matplotlib, Agg backend): ROC curves, bar charts, heatmaps, image grids.

Each function writes one PNG and returns its path. Topic-specific plots live with their topic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from fakescope.metrics.detection import roc_auc, roc_curve  # noqa: E402


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def roc_plot(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str | Path, *,
             title: str = "ROC") -> Path:
    """ROC curves of ``{name: (labels, scores)}`` with AUC in the legend."""
    fig, ax = plt.subplots(figsize=(5, 4.4))
    for name, (y, s) in curves.items():
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, lw=1.6, label=f"{name} (AUC {roc_auc(y, s):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", c="0.6", lw=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title,
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(fontsize=7.5, loc="lower right")
    return _save(fig, path)


def grouped_bars(table: pd.DataFrame, path: str | Path, *, index: str, columns: str, values: str,
                 title: str = "", ylabel: str = "", ylim: tuple[float, float] | None = (0, 1),
                 hline: float | None = 0.5) -> Path:
    """Bars of ``values`` per ``index`` (x axis), one colour per ``columns``."""
    wide = table.pivot_table(index=index, columns=columns, values=values, aggfunc="mean",
                             dropna=True)
    fig, ax = plt.subplots(figsize=(max(5, 0.7 * len(wide) + 2), 3.8))
    if wide.empty or not np.isfinite(wide.to_numpy(dtype=float)).any():
        ax.text(0.5, 0.5, "no defined values (groups too small?)", ha="center", va="center",
                transform=ax.transAxes)
        ax.set(title=title, xticks=[], yticks=[])
        return _save(fig, path)
    wide.plot.bar(ax=ax, width=0.8, rot=35)
    if hline is not None:
        ax.axhline(hline, ls="--", c="0.5", lw=1)
    ax.set(title=title, ylabel=ylabel or values, xlabel="")
    if ylim:
        ax.set_ylim(*ylim)
    ax.legend(fontsize=7.5)
    plt.setp(ax.get_xticklabels(), ha="right")
    return _save(fig, path)


def heatmap(table: pd.DataFrame, path: str | Path, *, title: str = "", fmt: str = ".2f",
            cmap: str = "viridis", vmin: float | None = None, vmax: float | None = None) -> Path:
    """Annotated heatmap of a numeric DataFrame (rows x columns)."""
    data = table.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(0.8 * data.shape[1] + 2.5, 0.45 * data.shape[0] + 1.6))
    im = ax.imshow(data, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(data.shape[1]), [str(c) for c in table.columns], rotation=35, ha="right")
    ax.set_yticks(range(data.shape[0]), [str(i) for i in table.index])
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            if np.isfinite(data[i, j]):
                ax.text(j, i, format(data[i, j], fmt), ha="center", va="center", fontsize=7,
                        color="white" if im.norm(data[i, j]) < 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.04)
    ax.set_title(title)
    return _save(fig, path)


def image_grid(rows: Sequence[Sequence[np.ndarray]], path: str | Path, *,
               row_labels: Sequence[str] = (), col_labels: Sequence[str] = (),
               title: str = "", cell: float = 1.3) -> Path:
    """A grid of images (RGB uint8 or 2-D masks shown in grey)."""
    n_r, n_c = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_r, n_c, figsize=(cell * n_c + 0.6, cell * n_r + 0.5), squeeze=False)
    for i in range(n_r):
        for j in range(n_c):
            ax = axes[i][j]
            ax.axis("off")
            if j < len(rows[i]) and rows[i][j] is not None:
                img = rows[i][j]
                ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0,
                          vmax=255 if img.dtype == np.uint8 else 1)
                if img.ndim == 2:  # a frame, so an all-white mask is not lost on the page
                    ax.axis("on")
                    ax.set_xticks([])
                    ax.set_yticks([])
                    for spine in ax.spines.values():
                        spine.set_edgecolor("0.6")
            if i == 0 and j < len(col_labels):
                ax.set_title(col_labels[j], fontsize=7)
            if j == 0 and i < len(row_labels):
                ax.text(-0.08, 0.5, row_labels[i], transform=ax.transAxes, ha="right",
                        va="center", fontsize=7, rotation=90)
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)
