"""Single-file inference: score images (and folders of images) with a checkpoint.

Each result is a dict ``{"path", "p_fake", "verdict", "model"}`` plus
``"uncertainty": {"total", "aleatoric", "epistemic", "variance"}`` when a stochastic method is
asked for, or ``{"path", "error"}`` for a file that could not be read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from fakescope.data.dataset import resize_to_tensor
from fakescope.data.images import list_media, load_image
from fakescope.errors import DataError
from fakescope.models.checkpoint import load_detector
from fakescope.models.detector import p_fake as p_fake_of
from fakescope.train.distributed import resolve_device


def _load_all(files: list[Path], size: int) -> tuple[list[tuple[Path, torch.Tensor]], list[dict]]:
    ok, bad = [], []
    for f in files:
        try:
            ok.append((f, resize_to_tensor(load_image(f), size)))
        except DataError as exc:
            bad.append({"path": str(f), "error": exc.problem})
    return ok, bad


def detect_images(paths: list[str | Path], checkpoint: str | Path, *, uncertainty: str = "none",
                  samples: int = 32, map_dir: str | Path | None = None, threshold: float = 0.5,
                  batch_size: int = 32, device: str = "auto") -> list[dict[str, Any]]:
    """Score every image under ``paths``; results keep the input order, errors included."""
    files = list_media(list(paths), keep_missing=True)
    if not files:
        raise DataError("no images found", path=", ".join(map(str, paths)))
    dev = resolve_device(device)
    model, meta = load_detector(checkpoint, device=dev)
    size = int(meta["architecture"]["image_size"])
    ok, bad = _load_all(files, size)
    results: dict[str, dict[str, Any]] = {b["path"]: b for b in bad}
    if ok:
        images = torch.stack([t for _, t in ok])
        if uncertainty == "none":
            probs = []
            with torch.no_grad():
                for i in range(0, len(images), batch_size):
                    logits = model(images[i:i + batch_size].to(dev))["detect"]
                    probs.append(torch.softmax(logits.float(), -1).cpu())
            pf = p_fake_of(torch.cat(probs)).tolist()
            found = [{"p_fake": p} for p in pf]
        else:
            from fakescope.uncertainty.sampling import detect_with_uncertainty

            found = detect_with_uncertainty(model, images, method=uncertainty, samples=samples,
                                            map_dir=map_dir, names=[f.stem for f, _ in ok],
                                            batch_size=batch_size)
        for (f, _), r in zip(ok, found, strict=True):
            r = dict(r)
            r["verdict"] = "fake" if r["p_fake"] >= threshold else "real"
            results[str(f)] = {"path": str(f), **r}
    return [results[str(f)] for f in files]
