import pandas as pd
import pytest

from fakescope.errors import DataError
from fakescope.scores import read_scores


def test_alias_and_defaults(tmp_path):
    f = tmp_path / "s.csv"
    pd.DataFrame({"label": ["real", "fake"], "prob": [0.1, 0.9]}).to_csv(f, index=False)
    df = read_scores(f)
    assert df["p_fake"].tolist() == [0.1, 0.9]
    assert df["sample_id"].tolist() == ["0", "1"]


@pytest.mark.parametrize("p,msg", [(float("nan"), "row 1, column 'p_fake'"), (1.5, "not a probability")])
def test_bad_probabilities(tmp_path, p, msg):
    f = tmp_path / "s.csv"
    pd.DataFrame({"label": [0, 1], "p_fake": [0.2, p]}).to_csv(f, index=False)
    with pytest.raises(DataError, match=msg):
        read_scores(f)


def test_missing_columns(tmp_path):
    f = tmp_path / "s.csv"
    pd.DataFrame({"label": [0, 1]}).to_csv(f, index=False)
    with pytest.raises(DataError, match="no p_fake column"):
        read_scores(f)
