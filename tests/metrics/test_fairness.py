"""Fairness audit vs fairlearn / scikit-learn and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, roc_auc_score

from fakescope.errors import ConfigError, DataError
from fakescope.metrics import fairness as fm
from fakescope.metrics.fairness import SmallGroupWarning, fairness_report


def _random_scores(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gender = rng.choice(["female", "male"], n)
    race = rng.choice(["asian", "black", "white"], n, p=[0.3, 0.3, 0.4])
    label = rng.integers(0, 2, n)
    # group-dependent bias so gaps are not all ~0
    shift = np.where(race == "black", 0.15, 0.0) + np.where(gender == "male", -0.05, 0.0)
    p = np.clip(0.35 + 0.3 * label + shift + rng.normal(0, 0.2, n), 0, 1)
    p = np.round(p, 2)  # ties, to exercise AUC tie handling
    return pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "label": label,
                         "p_fake": p, "gender": gender, "race": race})


FAIRLEARN_RATES = {"tpr": true_positive_rate, "fpr": false_positive_rate,
                   "tnr": true_negative_rate, "fnr": false_negative_rate,
                   "acc": accuracy_score, "pr": selection_rate}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("threshold", [0.5, 0.62])
def test_per_group_rates_and_gaps_match_fairlearn(seed, threshold):
    df = _random_scores(600, seed)
    rep = fairness_report(df, groups=["gender", "race"], intersect=True, threshold=threshold,
                          min_group_size=1, n_boot=0)
    assert set(rep.groupings) == {"gender", "race", "gender*race"}
    y = df["label"].to_numpy()
    yhat = (df["p_fake"] >= threshold).astype(int).to_numpy()
    for name, cols in (("gender", ["gender"]), ("race", ["race"]),
                       ("gender*race", ["gender", "race"])):
        sens = df[cols] if len(cols) > 1 else df[cols[0]]
        mf = MetricFrame(metrics=FAIRLEARN_RATES, y_true=y, y_pred=yhat, sensitive_features=sens)
        g = rep.groupings[name]
        by = mf.by_group
        for key, row in by.iterrows():
            gname = "*".join(key) if isinstance(key, tuple) else key
            for k in FAIRLEARN_RATES:
                assert getattr(g.groups[gname], k) == pytest.approx(row[k], abs=1e-12)
        for gname, st in g.groups.items():
            mask = np.ones(len(df), bool)
            for c, v in zip(cols, gname.split("*"), strict=True):
                mask &= (df[c] == v).to_numpy()
            assert st.n == mask.sum()
            assert st.auc == pytest.approx(roc_auc_score(y[mask], df["p_fake"][mask]), abs=1e-12)
        diff = mf.difference(method="between_groups")
        assert g.gaps["F_FPR"] == pytest.approx(100 * diff["fpr"], abs=1e-9)
        assert g.gaps["F_OAE"] == pytest.approx(100 * diff["acc"], abs=1e-9)
        assert g.gaps["F_DP"] == pytest.approx(100 * diff["pr"], abs=1e-9)
        eod = equalized_odds_difference(y, yhat, sensitive_features=sens)
        assert g.gaps["F_MEO"] == pytest.approx(100 * eod, abs=1e-9)
        dpd = demographic_parity_difference(y, yhat, sensitive_features=sens)
        assert g.gaps["F_DP"] == pytest.approx(100 * dpd, abs=1e-9)
        aucs = [st.auc for st in g.groups.values()]
        assert g.gaps["AUC_gap"] == pytest.approx(100 * (max(aucs) - min(aucs)), abs=1e-9)
        overall = mf.overall
        assert g.overall.fpr == pytest.approx(overall["fpr"])
        assert g.overall.auc == pytest.approx(roc_auc_score(y, df["p_fake"]))


def test_sum_of_deviation_variants_by_hand():
    # Two groups, hand-counted. Threshold 0.5.
    # group a: reals p=[0.6, 0.2, 0.1, 0.3] -> FP=1 of 4 (FPR .25); fakes p=[0.9, 0.4] -> TPR .5
    # group b: reals p=[0.7, 0.8] -> FPR 1.0; fakes p=[0.9, 0.95, 0.96, 0.2] -> TPR .75
    df = pd.DataFrame({
        "label": [0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1],
        "p_fake": [0.6, 0.2, 0.1, 0.3, 0.9, 0.4, 0.7, 0.8, 0.9, 0.95, 0.96, 0.2],
        "g": ["a"] * 6 + ["b"] * 6,
    })
    rep = fairness_report(df, groups=["g"], min_group_size=1, n_boot=0)
    gaps = rep.groupings["g"].gaps
    fpr_all, tpr_all = 3 / 6, 4 / 6
    pr_a, pr_b, pr_all = 2 / 6, 5 / 6, 7 / 12
    assert gaps["F_FPR"] == pytest.approx(100 * (1.0 - 0.25))
    assert gaps["F_EFPR"] == pytest.approx(100 * (abs(0.25 - fpr_all) + abs(1.0 - fpr_all)))
    assert gaps["F_EO"] == pytest.approx(100 * (abs(0.25 - fpr_all) + abs(1.0 - fpr_all)
                                                + abs(0.5 - tpr_all) + abs(0.75 - tpr_all)))
    assert gaps["F_G"] == pytest.approx(100 * max(abs(pr_a - pr_all), abs(pr_b - pr_all)))
    acc_a, acc_b = 4 / 6, 3 / 6
    assert gaps["F_OAE"] == pytest.approx(100 * (acc_a - acc_b))
    # F_MEO: FPR spread .75 > TPR spread .25
    assert gaps["F_MEO"] == pytest.approx(75.0)


def test_small_groups_are_flagged_and_left_out():
    df = _random_scores(300, 3)
    df.loc[:4, "race"] = "tiny"
    with pytest.warns(SmallGroupWarning, match="tiny"):
        rep = fairness_report(df, groups=["race"], min_group_size=20, n_boot=0)
    g = rep.groupings["race"]
    assert g.groups["tiny"].small and g.groups["tiny"].n == 5
    assert "tiny" not in g.judged
    assert any("tiny" in w for w in g.warnings)
    fprs = [g.groups[k].fpr for k in g.judged]
    assert g.gaps["F_FPR"] == pytest.approx(100 * (max(fprs) - min(fprs)))
    d = g.to_dict()
    assert d["small_groups"] == ["tiny"] and d["groups"]["tiny"]["small"] is True


def test_fewer_than_two_judged_groups_give_nan():
    df = _random_scores(100, 4)
    df["one"] = "x"
    rep = fairness_report(df, groups=["one"], min_group_size=1, n_boot=0)
    assert all(math.isnan(v) for v in rep.groupings["one"].gaps.values())
    assert rep.to_dict()["one"]["gaps"]["F_FPR"] is None


def test_weighted_stats_equal_repeated_rows():
    """The bootstrap's integer weights give the same numbers as physically repeated rows."""
    df = _random_scores(200, 5)
    rng = np.random.default_rng(7)
    w = rng.integers(0, 4, len(df))
    rep_df = df.loc[np.repeat(np.arange(len(df)), w)].reset_index(drop=True)
    direct = fairness_report(rep_df, groups=["race"], min_group_size=1, n_boot=0)
    y = df["label"].to_numpy()
    s = df["p_fake"].to_numpy()
    labels, codes = np.unique(df["race"], return_inverse=True)
    r, r_all, auc = fm._stats_from_weights(w[None].astype(float), y, (s >= 0.5).astype(int), s,
                                           codes, len(labels))
    gaps = fm._gaps(r, r_all, auc, np.ones(len(labels), bool))
    for k, v in direct.groupings["race"].gaps.items():
        assert gaps[k][0] == pytest.approx(v, abs=1e-9)
    for i, lab in enumerate(labels):
        assert auc[0, i] == pytest.approx(direct.groupings["race"].groups[lab].auc, abs=1e-12)
        mask = df["race"].to_numpy() == lab
        assert auc[0, i] == pytest.approx(roc_auc_score(y[mask], s[mask], sample_weight=w[mask]))


def test_bootstrap_is_seeded_and_covers_point():
    df = _random_scores(800, 6)
    a = fairness_report(df, groups=["race"], n_boot=200, seed=3, min_group_size=1)
    b = fairness_report(df, groups=["race"], n_boot=200, seed=3, min_group_size=1)
    c = fairness_report(df, groups=["race"], n_boot=200, seed=4, min_group_size=1)
    assert a.to_dict() == b.to_dict()
    assert a.to_dict() != c.to_dict()
    g = a.groupings["race"]
    lo, hi = g.gaps_ci["F_FPR"]
    assert lo <= hi
    for name, st in g.groups.items():
        lo, hi = st.ci["auc"]
        assert lo <= st.auc <= hi, name


def test_json_layout_and_errors():
    df = _random_scores(120, 8)
    d = fairness_report(df, groups=["gender"], n_boot=10, min_group_size=1).to_dict()
    assert set(d) == {"gender"}
    assert set(d["gender"]["groups"]["male"]) >= {"n", "auc", "tpr", "fpr", "tnr", "fnr", "acc",
                                                   "pr"}
    assert set(d["gender"]["gaps"]) == set(fm.GAP_NAMES)
    with pytest.raises(DataError, match="no group column 'age'"):
        fairness_report(df, groups=["age"])
    with pytest.raises(ConfigError):
        fairness_report(df, groups=["gender"], threshold=1.5)
    with pytest.raises(ConfigError):
        fairness_report(df, groups=[])


def test_missing_group_values_are_counted():
    df = _random_scores(200, 9)
    df.loc[:9, "gender"] = np.nan
    rep = fairness_report(df, groups=["gender"], min_group_size=1, n_boot=0)
    g = rep.groupings["gender"]
    assert g.n_missing == 10
    assert sum(s.n for s in g.groups.values()) == 190


def test_overall_auc_ci_brackets_sklearn_auc():
    df = _random_scores(500, 10)
    g = fairness_report(df, groups=["gender"], n_boot=200, seed=1, min_group_size=1)
    auc = roc_auc_score(df["label"], df["p_fake"])
    lo, hi = g.groupings["gender"].overall.ci["auc"]
    assert lo < auc < hi and hi - lo < 0.2


def test_no_group_large_enough_gives_nan_gaps_not_a_crash():
    import warnings

    import numpy as np
    import pandas as pd

    from fakescope.metrics.fairness import fairness_report

    df = pd.DataFrame({"label": [0, 1, 0, 1], "p_fake": [0.2, 0.8, 0.6, 0.4],
                       "g": ["a", "a", "b", "b"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = fairness_report(df, groups=["g"], min_group_size=10, n_boot=20)
    assert all(np.isnan(v) for v in rep.groupings["g"].gaps.values())


def test_saturated_threshold_is_flagged():
    import numpy as np
    import pandas as pd

    from fakescope.metrics.fairness import fairness_report

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"label": rng.integers(0, 2, 200), "p_fake": rng.uniform(0.6, 1.0, 200),
                       "g": rng.choice(["a", "b"], 200)})
    rep = fairness_report(df, groups=["g"], min_group_size=10, n_boot=0)
    g = rep.groupings["g"]
    assert g.gaps["F_FPR"] == 0.0  # every real face is called fake in both groups ...
    assert any("saturation" in w for w in g.warnings)  # ... which is flagged, not praised


def test_bootstrap_resamples_identities_and_says_so():
    # every identity appears 4 times with the same score: copies, not new evidence
    base = _random_scores(150, 11)
    base["identity"] = [f"id{i}" for i in range(len(base))]
    df = base.loc[base.index.repeat(4)].reset_index(drop=True)
    df["sample_id"] = [f"s{i}" for i in range(len(df))]
    by_id = fairness_report(df, groups=["race"], n_boot=300, seed=1, min_group_size=1)
    by_row = fairness_report(df, groups=["race"], n_boot=300, seed=1, min_group_size=1,
                             unit="row")
    one = fairness_report(base, groups=["race"], n_boot=300, seed=1, min_group_size=1,
                          unit="row")
    g, r, o = (x.groupings["race"] for x in (by_id, by_row, one))
    assert g.unit == "identity (150 clusters)" and r.unit == "row (600 rows)"
    assert g.to_dict()["resampled"] == "identity (150 clusters)"
    width = {k: x.overall.ci["auc"][1] - x.overall.ci["auc"][0] for k, x in
             (("id", g), ("row", r), ("one", o))}
    assert width["row"] < 0.7 * width["id"]  # rows of copies: too narrow
    assert width["id"] == pytest.approx(width["one"], rel=0.25)


def test_gap_intervals_contain_their_estimate_and_report_the_bias():
    for seed in range(4):
        df = _random_scores(300, 20 + seed)
        g = fairness_report(df, groups=["gender*race"], n_boot=200, seed=seed,
                            min_group_size=1).groupings["gender*race"]
        for k, v in g.gaps.items():
            lo, hi = g.gaps_ci[k]
            assert lo <= v <= hi, (seed, k, v, lo, hi)
            assert lo >= 0
        assert g.gaps_bias["F_OAE"] > 0  # a max - min is biased upward under resampling


def test_single_label_groups_ours_and_pgfdd():
    df = _random_scores(400, 12)
    df.loc[df["race"] == "asian", "label"] = 1  # a group with fakes only
    ours = fairness_report(df, groups=["race"], n_boot=0, min_group_size=1).groupings["race"]
    pg = fairness_report(df, groups=["race"], n_boot=0, min_group_size=1,
                         single_label="drop").groupings["race"]
    rest = df[df["race"] != "asian"]
    only_two = fairness_report(rest, groups=["race"], n_boot=0,
                               min_group_size=1).groupings["race"]
    # PG-FDD: the group has no metrics at all, as if it were not there
    assert pg.judged == ["black", "white"]
    assert pg.gaps["F_OAE"] == pytest.approx(only_two.gaps["F_OAE"])
    assert pg.gaps["F_FPR"] == pytest.approx(only_two.gaps["F_FPR"])
    # ours: it stays in the gaps its rates define (accuracy), out of those it does not (FPR)
    assert "asian" in ours.judged
    accs = [ours.groups[k].acc for k in ("asian", "black", "white")]
    assert ours.gaps["F_OAE"] == pytest.approx(100 * (max(accs) - min(accs)))
    assert ours.gaps["F_FPR"] == pytest.approx(only_two.gaps["F_FPR"])
    with pytest.raises(ConfigError):
        fairness_report(df, groups=["race"], single_label="ignore")
