"""Self-supervised backbones trained by ``fakescope pretrain`` (SimCLR on real faces).

A checkpoint folder holds ``model.safetensors`` (keys ``backbone.*`` and ``projector.*``) and
``meta.json`` (``method``, ``arch``, ``image_size``, ``mean``, ``std``, ``feature_dim``, ...).
Features are the backbone's pooled output, before the projection head (as in SimCLR).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import timm
from torch import nn

from fakescope.errors import ModelError
from fakescope.models.feature_extractors import TorchFeatureExtractor, register_feature_extractor

WEIGHTS_FILE = "model.safetensors"
META_FILE = "meta.json"


def build_ssl_backbone(arch: str) -> tuple[nn.Module, int]:
    """timm ``arch`` without classifier (random init) -> (module, pooled feature dim)."""
    try:
        model = timm.create_model(arch, pretrained=False, num_classes=0)
    except RuntimeError as exc:
        raise ModelError(f"timm cannot build {arch!r}: {exc}") from exc
    return model, int(getattr(model, "head_hidden_size", None) or model.num_features)


def read_ssl_meta(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """Checkpoint folder (or its meta.json / model.safetensors) -> (folder, meta)."""
    p = Path(path)
    folder = p.parent if p.is_file() else p
    meta_path = folder / META_FILE
    if not meta_path.is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise ModelError("not a self-supervised checkpoint (needs meta.json and "
                         "model.safetensors)", path=folder,
                         hint="make one with: fakescope pretrain --method simclr --manifest M "
                         "--out DIR")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"bad meta.json: {exc}", path=meta_path) from exc
    for key in ("arch", "image_size", "mean", "std"):
        if key not in meta:
            raise ModelError(f"meta.json lacks {key!r}", path=meta_path)
    return folder, meta


def load_ssl_module(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The backbone module of a checkpoint folder, weights loaded strictly, in eval mode."""
    from safetensors.torch import load_file

    folder, meta = read_ssl_meta(path)
    module, _ = build_ssl_backbone(meta["arch"])
    state = load_file(str(folder / WEIGHTS_FILE))
    own = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
    try:
        module.load_state_dict(own, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"weights do not fit {meta['arch']}: {exc}", path=folder) from exc
    return module.eval(), meta


@register_feature_extractor("simclr", task="self_supervised",
                   description="SimCLR on real faces (checkpoint from `fakescope pretrain`)")
def _simclr(*, checkpoint_path: str | Path | None = None, image_size: int | None = None,
            device=None) -> TorchFeatureExtractor:
    if checkpoint_path is None:
        raise ModelError("simclr needs checkpoint_path=<folder from fakescope pretrain>",
                         hint="fakescope pretrain --method simclr --manifest M --out DIR")
    module, meta = load_ssl_module(checkpoint_path)
    dim = int(meta.get("feature_dim") or build_ssl_backbone(meta["arch"])[1])
    return TorchFeatureExtractor("simclr", module, task="self_supervised", offline=True,
                         image_size=image_size or int(meta["image_size"]), mean=meta["mean"],
                         std=meta["std"], feature_dim=dim,
                         source=f"SimCLR checkpoint {checkpoint_path}", device=device)
