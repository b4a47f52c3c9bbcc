"""What a training carries across a restart: RNG states, and which setting changes forbid a resume.

A run folder's ``last/meta.json`` records the training config; :func:`config_conflicts` lists the
settings in which a later config differs (except :data:`RESUME_FREE`: where and how fast it runs),
so the engine never resumes, and the run step never reuses, a training made with other settings.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fakescope.config import TrainConfig
from fakescope.errors import ModelError
from fakescope.models.checkpoint import read_meta


def rng_state() -> dict[str, Any]:
    # Plain types and tensors only, so state.pt loads with torch.load(weights_only=True).
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


#: Settings that may change between a run and its resume: where and how fast it runs, not what
#: it computes.
RESUME_FREE = {"data.manifest", "data.num_workers", "data.cache_images", "train.device",
               "train.eval_batch_size", "train.progress", "train.resume",
               "train.save_every_steps", "out_dir",
               # a refusal threshold: a training it lets through is the same training
               "data.max_unreadable",
               # where a map detector's signal and map caches live, and how many processes
               # fill them: the caches refuse other settings themselves
               "data.signals_dir", "data.map_cache", "data.signal_workers"}


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and k not in ("options", "heads"):  # compared whole
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_conflicts(saved: dict, cfg: TrainConfig) -> list[str]:
    """The settings (``section.key: saved -> now``) in which ``saved`` (a ``TrainConfig.to_dict()``
    written earlier) differs from ``cfg``. Keys in :data:`RESUME_FREE` are ignored, as are keys
    ``saved`` does not have (written by an older fakescope)."""
    old, now = _flat(saved), _flat(cfg.to_dict())
    return [f"{k}: {old[k]!r} -> {now[k]!r}" for k in sorted(now)
            if k in old and k not in RESUME_FREE and old[k] != now[k]]


def resume_conflicts(out_dir: str | Path, cfg: TrainConfig) -> list[str]:
    """:func:`config_conflicts` of the unfinished or finished training in ``out_dir/last``
    against ``cfg``; empty when there is none or it matches."""
    last = Path(out_dir) / "last"
    if not (last / "state.pt").is_file():
        return []
    try:
        saved = read_meta(last).get("training") or {}
    except ModelError:
        return []  # unreadable: _resume reports it
    return config_conflicts(saved, cfg)
