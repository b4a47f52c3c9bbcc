"""Local backbone weights: read a state dict from disk and load it into a backbone (offline).

Never unpickles code: ``.safetensors`` through safetensors, ``.pt``/``.pth`` through
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from fakescope.errors import ModelError


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a ``.pt/.pth`` file (never unpickling code)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError("weights file not found", path=path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"cannot read weights: {exc}", path=path) from exc
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ModelError("file holds no state dict", path=path)
    return state


def load_backbone_weights(backbone: nn.Module, path: str | Path) -> None:
    """Load local weights into a backbone, ignoring classifier keys; fail if most keys miss."""
    state = load_state_dict_file(path)
    state = {k.removeprefix("module.").removeprefix("backbone."): v for k, v in state.items()}
    own = backbone.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(usable) < 0.9 * len(own):
        raise ModelError(
            f"only {len(usable)} of {len(own)} backbone tensors match the weights file",
            path=path, hint="is it the same architecture?")
    backbone.load_state_dict(usable, strict=False)
