"""Distributed helpers: ``torchrun`` sets RANK / WORLD_SIZE / LOCAL_RANK; we read them.

CPU runs use the gloo backend, CUDA runs NCCL. Single-process runs never touch
``torch.distributed``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_main_process() -> bool:
    """True in a single process and in rank 0 of a ``torchrun`` job (which sets ``RANK``)."""
    return int(os.environ.get("RANK", "0")) == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group that ``torchrun`` describes; no-op for a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return info


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_object(obj, info: DistInfo, src: int = 0):
    """The object of rank ``src`` on every rank."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


class EpochSampler(torch.utils.data.Sampler[int]):
    """Deterministic per-epoch permutation, sharded over ranks, resumable mid-epoch.

    Order = permutation of ``range(n)`` seeded by ``(seed, epoch)``, padded by wrap-around to a
    multiple of ``world_size``, rank ``r`` takes ``order[r::world_size]``; the first ``skip``
    indices of this rank's share are dropped (batches already done before an interruption).
    """

    def __init__(self, n: int, *, seed: int, shuffle: bool = True, rank: int = 0, world_size: int = 1):
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def _order(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        pad = (-len(order)) % self.world_size
        order += order[:pad]
        return order[self.rank::self.world_size]

    def __iter__(self):
        return iter(self._order()[self.skip:])

    def __len__(self) -> int:
        per_rank = -(-self.n // self.world_size)
        return max(per_rank - self.skip, 0)
