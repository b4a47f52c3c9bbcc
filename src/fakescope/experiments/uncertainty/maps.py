"""Experiment ``maps``: where the binary detector looks, and where it is unsure.

On up to ``map_images`` test fakes with a manipulation mask, spread evenly over generators:
pixel maps (mean and variance of the saliency ``max_channel |dP_t(fake)/dx|`` over the
stochastic passes) and region occlusion (facial regions from 68 landmarks when the row has
``landmarks_path``, else a 4 x 4 grid), each scored against the mask by localisation AUC
(0.5 = chance); overlays of the variance map for the first two images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fakescope.data.balance import load_landmarks
from fakescope.data.images import load_image
from fakescope.data.manifest import resolve_path
from fakescope.errors import DataError
from fakescope.experiments.uncertainty.config import UncertaintyStudyConfig
from fakescope.experiments.uncertainty.data import Images
from fakescope.experiments.uncertainty.runs import stochastic_method
from fakescope.uncertainty import maps


def map_picks(test: Images, generators: list[str], n: int) -> np.ndarray:
    """Indices of up to ``n // #generators`` test fakes per generator that have a mask."""
    rows = test.rows
    fake = np.flatnonzero(test.labels == 1)
    if "mask_path" in rows.columns:
        fake = np.array([i for i in fake if isinstance(rows.at[i, "mask_path"], str)
                         and rows.at[i, "mask_path"]], dtype=int)
    if not len(fake):
        return np.zeros(0, int)
    src = test.sources
    per = max(1, n // max(1, len(generators)))
    return np.concatenate([fake[src[fake] == g][:per] for g in generators])


def region_masks(df: pd.DataFrame, row: pd.Series, size: int,
                 skipped: dict[str, str]) -> dict[str, np.ndarray]:
    """Facial-region masks ``{region: (size, size) bool}`` from the row's 68 landmarks, else a
    4 x 4 grid; an unreadable landmarks file is recorded in ``skipped``."""
    lm_path = row.get("landmarks_path")
    if isinstance(lm_path, str) and lm_path:
        try:
            pts = load_landmarks(resolve_path(df, lm_path))
            if pts.shape == (68, 2):
                h, w = load_image(resolve_path(df, row["path"])).shape[:2]
                return maps.face_region_masks(maps.scale_landmarks(pts, (h, w), (size, size)),
                                              size, size)
        except DataError as exc:
            skipped[str(lm_path)] = str(exc)
    return maps.grid_masks(size, size, grid=4)


def map_rows(detector: str, model, test: Images, df: pd.DataFrame, generators: list[str],
             cfg: UncertaintyStudyConfig, fig_dir: Path,
             ) -> tuple[list[dict], list[dict], list[Path], dict[str, str]]:
    """Localisation rows (one per image), occlusion rows (one per image and region), overlay
    figures and skipped files. ``df``: the manifest (its root resolves mask paths)."""
    pick = map_picks(test, generators, cfg.map_images)
    localisation, occlusion, figures, skipped = [], [], [], {}
    if not len(pick):
        return localisation, occlusion, figures, skipped
    rows, src = test.rows, test.sources
    has_mask = "mask_path" in rows.columns
    method = stochastic_method(model)
    x = test.x[pick]
    pm = maps.pixel_maps(model, x, method=method, samples=cfg.samples, seed=cfg.seed)
    for j, i in enumerate(pick):
        row = {"detector": detector, "sample_id": rows.at[i, "sample_id"], "source": src[i]}
        if has_mask:
            try:
                mask = load_image(resolve_path(df, rows.at[i, "mask_path"]))
                row["auc_saliency_mean"] = maps.localisation_auc(pm["mean"][j], mask)
                row["auc_saliency_variance"] = maps.localisation_auc(pm["variance"][j], mask)
            except DataError as exc:
                skipped[str(rows.at[i, "mask_path"])] = str(exc)
        masks = region_masks(df, rows.loc[i], cfg.image_size, skipped)
        occ = maps.occlusion_table(model, x[j], masks, method=method, samples=cfg.samples,
                                   seed=cfg.seed)
        if "auc_saliency_mean" in row:
            heat = maps.regions_to_map(occ, masks, "delta_epistemic")
            row["auc_occlusion_epistemic"] = maps.localisation_auc(heat, mask)
            heat = maps.regions_to_map(occ, masks, "delta_p_fake")
            row["auc_occlusion_p_fake"] = maps.localisation_auc(-heat, mask)
        occlusion.extend({"detector": detector, "source": src[i], **r}
                         for r in occ.to_dict("records"))
        localisation.append(row)
        if j < 2:
            stem = f"{src[i]}_{rows.at[i, 'sample_id']}"
            figures.append(maps.save_overlay(fig_dir / f"{stem}_uncertainty.png", x[j],
                                             pm["variance"][j]))
    return localisation, occlusion, figures, skipped
