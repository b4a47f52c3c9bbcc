import numpy as np
import pandas as pd
import pytest

from fakescope.errors import ConfigError, DataError
from fakescope.train.paired_sampler import PairedEpochSampler, create_train_sampler


def _frame():
    """Reals r0-r5; r0-r3 have 1, 4, 2, 1 fakes; r4, r5 none; two fakes whose real is absent."""
    rows = [("r0", 0, "a"), ("r1", 0, "b"), ("r2", 0, "c"), ("r3", 0, "d"), ("r4", 0, "e"),
            ("r5", 0, "f"), ("fa", 1, "a"), ("fb1", 1, "b"), ("fb2", 1, "b"), ("fb3", 1, "b"),
            ("fb4", 1, "b"), ("fc1", 1, "c"), ("fc2", 1, "c"), ("fd", 1, "d"), ("o1", 1, "x"),
            ("o2", 1, "y")]
    return pd.DataFrame(rows, columns=["sample_id", "label", "pair_id"])


def _sampler(df, **kw):
    return PairedEpochSampler(df["label"], df["pair_id"], seed=3, **kw)


def test_each_real_is_followed_by_one_of_its_fakes():
    df = _frame()
    s = _sampler(df)
    order = list(s)
    # 6 reals + 4 partners + 2 orphans; fakes beyond one per real wait for later epochs
    assert len(order) == len(s) == 12
    reals = [i for i in order if df.label[i] == 0]
    assert sorted(reals) == list(range(6))
    for pos, i in enumerate(order):
        if df.label[i] == 0 and df.pair_id[i] in "abcd":
            partner = order[pos + 1]
            assert df.label[partner] == 1 and df.pair_id[partner] == df.pair_id[i]
    assert {df.sample_id[i] for i in order} >= {"o1", "o2"}


def test_epochs_draw_other_fakes_and_keep_their_length():
    df = _frame()
    s = _sampler(df)
    seen, lengths = set(), set()
    for epoch in range(30):
        s.set_epoch(epoch)
        order = list(s)
        lengths.add(len(order))
        seen |= set(order)
    assert lengths == {12}
    assert seen == set(range(len(df)))  # every fake is drawn at some epoch
    s.set_epoch(0)
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first
    s.set_epoch(0)
    assert list(s) == first  # a function of (seed, epoch): resumable


def test_skip_resumes_mid_epoch():
    s = _sampler(_frame())
    s.set_epoch(4)
    full = list(s)
    s.set_epoch(4, skip=5)
    assert list(s) == full[5:] and len(s) == len(full) - 5


@pytest.mark.parametrize("world", [2, 3])
def test_ranks_get_equal_shares_that_keep_pairs_whole(world):
    df = _frame()
    shares = []
    for rank in range(world):
        s = _sampler(df, rank=rank, world_size=world)
        s.set_epoch(2)
        shares.append(list(s))
        assert len(shares[-1]) == len(s)
    assert len({len(x) for x in shares}) == 1
    covered = set().union(*map(set, shares))
    one = _sampler(df)
    one.set_epoch(2)
    assert covered == set(one)  # the same epoch, split over ranks
    for order in shares:
        for pos, i in enumerate(order[:-1]):
            if df.label[i] == 0 and df.pair_id[i] in "abcd":
                assert df.pair_id[order[pos + 1]] == df.pair_id[i]


def test_balances_a_one_to_four_dataset():
    rng = np.random.default_rng(0)
    n = 50
    rows = [(f"r{k}", 0, f"k{k}") for k in range(n)]
    rows += [(f"f{k}_{j}", 1, f"k{k}") for k in range(n) for j in range(4)]
    df = pd.DataFrame(rows, columns=["sample_id", "label", "pair_id"]).sample(
        frac=1, random_state=int(rng.integers(100))).reset_index(drop=True)
    order = list(_sampler(df))
    assert df.label[order].mean() == 0.5


def test_create_train_sampler_errors():
    df = _frame()
    with pytest.raises(ConfigError, match="unknown data.sampler"):
        create_train_sampler("pairs", df, df.label, pair_column="pair_id", seed=0)
    with pytest.raises(DataError, match="'video_id' column"):
        create_train_sampler("paired", df, df.label, pair_column="video_id", seed=0)
    lonely = df[df.pair_id.isin(["e", "f", "x"])].reset_index(drop=True)
    with pytest.raises(DataError, match="no real row"):
        create_train_sampler("paired", lonely, lonely.label, pair_column="pair_id", seed=0)
    assert len(create_train_sampler("shuffle", df, df.label, pair_column="pair_id", seed=0)) == 16
