"""Where a model runs: one rule for every command (``auto`` = CUDA when present, else CPU)."""

from __future__ import annotations

import torch


def resolve_device(name: str | torch.device | None = "auto", local_rank: int = 0) -> torch.device:
    """``auto``/None -> ``cuda:<local_rank>`` when CUDA is available, else CPU; any other name
    (``cpu``, ``cuda``, ``cuda:1``) or a ``torch.device`` as given."""
    if name is None or name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    return torch.device(name)
