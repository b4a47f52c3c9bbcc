"""Attribute CSVs: PG-FDD mapping and joins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fakescope.data.demographics import (
    PGFDD_INTERSEC,
    join_attributes,
    map_pgfdd,
    read_attributes,
)
from fakescope.errors import DataError


def _pgfdd_rows():
    # every one of the 8 intersectional groups once, written as the one-hot columns
    rows = []
    for male in (1, 0):
        for race in ("asian", "white", "black", "others"):
            rows.append({"ismale": male, "isasian": int(race == "asian"),
                         "iswhite": int(race == "white"), "isblack": int(race == "black"),
                         "race_truth": race, "gender_truth": "male" if male else "female"})
    df = pd.DataFrame(rows)
    df["intersec_label"] = np.arange(8)
    return df


def test_pgfdd_mapping_from_onehots_and_intersec():
    df = _pgfdd_rows()
    out = map_pgfdd(df)
    assert (out["gender"] == df["gender_truth"]).all()
    assert (out["race"] == df["race_truth"]).all()
    only_inter = map_pgfdd(df[["intersec_label"]])
    assert list(only_inter["gender_race"]) == list(out["gender_race"])
    assert PGFDD_INTERSEC[5] == ("female", "white")


def test_pgfdd_disagreement_is_an_error():
    df = _pgfdd_rows()
    df.loc[2, "intersec_label"] = 6
    with pytest.raises(DataError, match="row 2: intersec_label"):
        map_pgfdd(df, origin="attrs.csv")
    df = _pgfdd_rows()
    df.loc[3, "ismale"] = 2
    with pytest.raises(DataError, match="column 'ismale'"):
        map_pgfdd(df)


def test_read_and_join_on_video_id(tmp_path):
    attrs = pd.DataFrame({"video_id": ["v1", "v2"], "ismale": [1, 0], "isasian": [0, 0],
                          "iswhite": [0, 1], "isblack": [1, 0], "intersec_label": [2, 5]})
    f = tmp_path / "attrs.csv"
    attrs.to_csv(f, index=False)
    scores = pd.DataFrame({"sample_id": ["a", "b", "c", "d"], "video_id": ["v2", "v1", "v1", "v9"],
                           "label": [0, 1, 1, 0], "p_fake": [0.1, 0.9, 0.8, 0.3]})
    out = join_attributes(scores, f, on="video_id", columns=["gender", "race"])
    assert list(out["gender"][:3]) == ["female", "male", "male"]
    assert list(out["race"][:3]) == ["white", "black", "black"]
    assert pd.isna(out["gender"].iloc[3])
    with pytest.raises(DataError, match="'v9' has no attributes"):
        join_attributes(scores, f, on="video_id", how_missing="error")


def test_join_errors_name_the_file(tmp_path):
    f = tmp_path / "a.csv"
    pd.DataFrame({"id": ["x"], "gender": ["male"]}).to_csv(f, index=False)
    scores = pd.DataFrame({"sample_id": ["x"], "label": [0], "p_fake": [0.2]})
    with pytest.raises(DataError, match=r"a\.csv: no 'sample_id' column"):
        join_attributes(scores, f)
    with pytest.raises(DataError, match="not found"):
        read_attributes(tmp_path / "missing.csv")
    pd.DataFrame({"sample_id": ["x", "x"], "gender": ["m", "f"]}).to_csv(f, index=False)
    with pytest.raises(DataError, match="duplicate id"):
        join_attributes(scores, f)
    with pytest.raises(DataError, match="cannot join on"):
        join_attributes(scores, f, on="path")


def test_readable_columns_copied(tmp_path):
    f = tmp_path / "a.csv"
    pd.DataFrame({"sample_id": ["1", "2"], "gender": ["f", "m"], "age": ["young", "old"]}).to_csv(
        f, index=False)
    scores = pd.DataFrame({"sample_id": ["2", "1"], "label": [0, 1], "gender": ["?", "?"]})
    out = join_attributes(scores, f)
    assert list(out["gender"]) == ["m", "f"] and list(out["age"]) == ["old", "young"]
