"""A tiny learnable image dataset on disk: fakes carry a brighter square (tests only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fakescope.data.images import save_image
from fakescope.data.manifest import write_manifest

SPLITS = ("train", "train", "train", "val", "test")


def make_toy_dataset(root: Path, *, n: int = 100, size: int = 32, seed: int = 0,
                     strength: int = 40, frames_per_video: int = 1) -> Path:
    """Write ``n`` PNGs and ``root/manifest.csv``; returns the manifest path.

    Label alternates real/fake; fakes have a +``strength`` square whose position depends on
    their source (``square`` or ``corner``); ``gender`` alternates m/f independently; rows
    ``2k`` (real) and ``2k + 1`` (fake) share ``pair_id`` and split.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = i % 2
        img = rng.integers(40, 200, (size, size, 3)).astype(np.int16)
        source = "real"
        if label:
            source = ("square", "corner")[(i // 2) % 2]
            a, b = (size // 4, 3 * size // 4) if source == "square" else (0, size // 2)
            img[a:b, a:b] += strength
        save_image(root / "img" / f"{i:04d}.png", np.clip(img, 0, 255).astype(np.uint8))
        video = i // frames_per_video
        rows.append({"sample_id": f"s{i:04d}", "path": f"img/{i:04d}.png", "label": label,
                     "source": source, "identity": f"id{i % 7}", "video_id": f"{source}_v{video}",
                     "frame": i % frames_per_video, "split": SPLITS[(i // 2) % 5],
                     "gender": ("m", "f")[(i // 3) % 2], "pair_id": f"p{i // 2:04d}"})
    return write_manifest(pd.DataFrame(rows), root / "manifest.csv")
