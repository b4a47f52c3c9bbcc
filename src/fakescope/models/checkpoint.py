"""Checkpoints: ``model.safetensors`` + ``meta.json`` in one folder.

``meta.json``::

    {"format": "fakescope-detector/1", "fakescope_version": ..., "architecture": {...},
     "preprocessing": {"image_size", "mean", "std", "input": "RGB float [0,1]",
                       "faces": {...how a face became a training image...}},
     "training_data": {...what it was trained on...},
     "ood": {...out-of-distribution statistics, with ood.safetensors...},
     "training": {...config...}, "metrics": {...}, ...anything else given}

``preprocessing.faces`` (:mod:`fakescope.data.preprocessing`): ``crop`` ("aligned" for crops
made by ``fakescope data faces``, "whole_image" for images that are face crops already, such as
SynthFaces), the dlib detector and landmarks, ``crop_size``, ``margin`` and the 5-point
``template`` that ``fakescope detect`` aligns every face of a photo to. ``training_data``:
manifest, dataset, row counts per split and label, sources (generators) and domains seen.
``ood`` (:mod:`fakescope.uncertainty.ood`): the Mahalanobis threshold and how it was fitted.
Checkpoints written before these keys existed lack them; ``fakescope ood-fit`` adds them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from fakescope import __version__
from fakescope.errors import ModelError
from fakescope.models.detector import Detector

FORMAT = "fakescope-detector/1"
WEIGHTS = "model.safetensors"
META = "meta.json"


def detector_meta(model: Detector, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """``meta.json`` of ``model`` (see the module doc); ``extra["preprocessing"]`` is merged into
    the preprocessing entry (e.g. its ``faces`` record), every other key of ``extra`` is added."""
    arch = model.config()
    extra = dict(extra or {})
    pre = {"image_size": arch.get("image_size"), "mean": arch["mean"], "std": arch["std"],
           "input": "RGB float in [0,1], resized", **(extra.pop("preprocessing", None) or {})}
    return {
        "format": FORMAT,
        "fakescope_version": __version__,
        "architecture": arch,
        "preprocessing": pre,
        **extra,
    }


def save_detector(model: Detector, out_dir: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir/model.safetensors`` and ``out_dir/meta.json`` (atomically each)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = out / (WEIGHTS + ".tmp")
    save_file(state, str(tmp))
    tmp.replace(out / WEIGHTS)
    stale = out / "ood.safetensors"  # statistics of the weights this save replaces
    if stale.is_file():
        stale.unlink()
    tmp = out / (META + ".tmp")
    tmp.write_text(json.dumps(detector_meta(model, meta), indent=2, default=str))
    tmp.replace(out / META)
    return out


def read_meta(path: str | Path) -> dict[str, Any]:
    """``meta.json`` of a checkpoint folder (or of the folder of its ``model.safetensors``)."""
    folder = _folder(path)
    try:
        meta = json.loads((folder / META).read_text())
    except FileNotFoundError as exc:
        raise ModelError(f"no {META} beside the weights", path=folder,
                         hint="a fakescope checkpoint is a folder with model.safetensors + meta.json") from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"{META} is not valid JSON: {exc}", path=folder / META) from exc
    if meta.get("format") != FORMAT:
        raise ModelError(f"unknown checkpoint format {meta.get('format')!r}", path=folder / META)
    return meta


def _folder(path: str | Path) -> Path:
    p = Path(path)
    if p.is_file():
        return p.parent
    if p.is_dir():
        return p
    raise ModelError("checkpoint not found", path=p)


def build_from_meta(meta: dict[str, Any]) -> Detector:
    """An untrained Detector with the architecture described in ``meta``."""
    from fakescope.models.registry import create_detector

    arch = dict(meta["architecture"])
    name = arch.pop("name")
    bayes = arch.pop("bayesian", None)
    model = create_detector(name, **arch)
    if bayes:
        from fakescope.models.bayesian import bayesianize

        model = bayesianize(model, **bayes)
    return model


def load_detector(path: str | Path, *, device: str | torch.device | None = None,
                  ) -> tuple[Detector, dict[str, Any]]:
    """Load a checkpoint folder (or its ``model.safetensors``) -> ``(model in eval mode, meta)``."""
    folder = _folder(path)
    meta = read_meta(folder)
    model = load_weights(build_from_meta(meta), folder)
    model.to(device or "cpu").eval()
    return model, meta


def load_weights(model: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    """Load a checkpoint folder's ``model.safetensors`` into ``model`` in place (strict), on
    the device ``model`` is on; for detectors the registry cannot rebuild (e.g. a separability
    feature extractor with a head)."""
    folder = _folder(path)
    try:
        state = load_file(str(folder / WEIGHTS))
    except Exception as exc:
        raise ModelError(f"cannot read weights: {exc}", path=folder / WEIGHTS) from exc
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelError(f"weights do not fit the architecture (missing {list(missing)[:3]}, "
                         f"unexpected {list(unexpected)[:3]})", path=folder / WEIGHTS)
    return model


def update_meta(path: str | Path, **entries: Any) -> dict[str, Any]:
    """Set top-level ``entries`` of a checkpoint's ``meta.json`` (rewritten atomically); returns
    the new meta. ``preprocessing`` is merged into the existing entry, not replaced."""
    folder = _folder(path)
    meta = read_meta(folder)
    for k, v in entries.items():
        meta[k] = {**meta.get(k, {}), **v} if k == "preprocessing" else v
    tmp = folder / (META + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, default=str))
    tmp.replace(folder / META)
    return meta
