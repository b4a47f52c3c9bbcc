"""Paired sampling: every real image is followed in the batch by one fake made from it.

A detector trained from scratch on shuffled batches sees unrelated faces whose identity, pose,
light and camera differ far more than a real differs from its fake, and on a few thousand images
it learns little in a few epochs. Putting each real next to a fake of the *same* content (the
pairing SBI trains with, Shiohara & Yamasaki 2022) leaves the manipulation as the only
difference inside a pair. The SynthFaces difficulty calibration (docs/synthfaces.md) trains
its reference detector, ResNet-18 from scratch, this way.

Pairs come from a key column (``pair_id`` in SynthFaces manifests): a real row and the fake rows
that carry the same key belong together; the key may name a frame or a whole video. One epoch
is, in a permutation seeded by ``(seed, epoch)``, every real followed by one of its fakes drawn
afresh each epoch (so a 1:4 real:fake dataset is balanced per epoch and all fakes are seen over
epochs), every real without a fake alone, and every fake whose key has no real alone. The epoch
length is therefore the same every epoch. Sharding keeps pairs on one rank; the ranks' shares
are padded by wrap-around to one fixed length, so every rank runs the same number of steps.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
import torch

from fakescope.errors import ConfigError, DataError

SAMPLERS = ("shuffle", "paired")


class PairedEpochSampler(torch.utils.data.Sampler[int]):
    """Resumable, rank-sharded epoch order of (real, fake) pairs; see the module docstring.

    ``labels``: 0 real / 1 fake per row; ``keys``: the pair key per row. ``set_epoch(epoch,
    skip)`` drops the first ``skip`` indices of this rank's share (batches already done).
    """

    def __init__(self, labels, keys, *, seed: int, rank: int = 0, world_size: int = 1):
        labels = np.asarray(labels).astype(int)
        keys = pd.Series(keys).astype(str).to_numpy()
        fakes: dict[str, list[int]] = defaultdict(list)
        for i in np.flatnonzero(labels != 0):
            fakes[keys[i]].append(int(i))
        self.reals = [int(i) for i in np.flatnonzero(labels == 0)]
        real_keys = {keys[i] for i in self.reals}
        self.partners = [fakes.get(keys[i], []) for i in self.reals]
        self.orphans = sorted(i for k, idx in fakes.items() if k not in real_keys for i in idx)
        self.n_pairs = sum(1 for p in self.partners if p)
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def _units(self) -> list[list[int]]:
        rng = np.random.default_rng((self.seed, self.epoch, 7919))
        units = [[r, p[int(rng.integers(len(p)))]] if p else [r]
                 for r, p in zip(self.reals, self.partners, strict=True)]
        units += [[i] for i in self.orphans]
        order = rng.permutation(len(units))
        return [units[k] for k in order]

    def _length(self) -> int:
        """Indices per rank, the same every epoch: all of them on one rank; on several, the
        balanced share rounded up plus one (greedy sharding leaves shares within 2 of each other)."""
        total = 2 * self.n_pairs + (len(self.reals) - self.n_pairs) + len(self.orphans)
        return total if self.world_size == 1 else -(-total // self.world_size) + 1

    def _shares(self) -> list[list[int]]:
        shares: list[list[int]] = [[] for _ in range(self.world_size)]
        for unit in self._units():  # each pair goes whole to the currently shortest share
            min(shares, key=len).extend(unit)
        n = self._length()
        shares = [s or shares[0] for s in shares]  # fewer units than ranks: repeat rank 0's
        return [(s * (n // len(s) + 1))[:n] for s in shares]

    def __iter__(self):
        return iter(self._shares()[self.rank][self.skip:])

    def __len__(self) -> int:
        return max(self._length() - self.skip, 0)


def create_train_sampler(name: str, frame: pd.DataFrame, labels, *, pair_column: str, seed: int,
                         rank: int = 0, world_size: int = 1, source: str = "the manifest"):
    """The training sampler ``data.sampler`` names: ``shuffle`` (a seeded permutation per
    epoch) or ``paired`` (:class:`PairedEpochSampler` over ``frame[pair_column]``)."""
    from fakescope.train.distributed import EpochSampler

    if name == "shuffle":
        return EpochSampler(len(frame), seed=seed, rank=rank, world_size=world_size)
    if name != "paired":
        raise ConfigError(f"unknown data.sampler {name!r}", hint=f"choose from {', '.join(SAMPLERS)}")
    if pair_column not in frame.columns:
        raise DataError(f"data.sampler=paired needs a {pair_column!r} column, which {source} "
                        "lacks", hint="set data.pair_column, or use data.sampler=shuffle")
    keys = frame[pair_column].fillna("").astype(str)
    sampler = PairedEpochSampler(labels, keys, seed=seed, rank=rank, world_size=world_size)
    if sampler.n_pairs == 0:
        raise DataError(f"data.sampler=paired: no real row of {source} shares its "
                        f"{pair_column!r} with a fake row", hint="use data.sampler=shuffle")
    return sampler
