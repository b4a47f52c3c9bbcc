import pandas as pd
import pytest

from fakescope.data.manifest import CORE_COLUMNS, read_manifest, validate_manifest, write_manifest
from fakescope.errors import DataError


def test_defaults_and_extra_columns_kept():
    df = validate_manifest(pd.DataFrame({"sample_id": ["a", "b"], "path": ["a.png", "b.png"],
                                         "label": ["real", "fake"], "race": ["x", "y"]}))
    assert list(df.columns[: len(CORE_COLUMNS)]) == list(CORE_COLUMNS)
    assert df["label"].tolist() == [0, 1]
    assert df["source"].tolist() == ["real", "fake"]
    assert df["video_id"].tolist() == ["a", "b"]
    assert df["race"].tolist() == ["x", "y"]


def test_roundtrip_csv_and_parquet(tmp_path):
    df = pd.DataFrame({"sample_id": ["1", "2"], "path": ["x.png", "y.png"], "label": [0, 1],
                       "split": ["train", "val"], "frame": [0, 3]})
    for name in ("m.csv", "m.parquet"):
        back = read_manifest(write_manifest(df, tmp_path / name))
        assert back["sample_id"].tolist() == ["1", "2"]
        assert back["frame"].tolist() == [0, 3]
        assert back.attrs["root"] == str(tmp_path.resolve())


@pytest.mark.parametrize("frame,column,message", [
    ({"sample_id": ["a"], "path": ["p"]}, None, "missing column(s) label"),
    ({"sample_id": ["a", "b"], "path": ["p", "q"], "label": [0, 7]}, "label", "row 1, column 'label'"),
    ({"sample_id": ["a", "a"], "path": ["p", "q"], "label": [0, 1]}, "sample_id", "duplicate id"),
    ({"sample_id": ["a"], "path": ["p"], "label": [0], "split": ["dev"]}, "split", "row 0, column 'split'"),
    ({"sample_id": ["a"], "path": ["p"], "label": [0], "frame": ["x"]}, "frame", "row 0, column 'frame'"),
])
def test_errors_name_row_and_column(tmp_path, frame, column, message):
    f = tmp_path / "bad.csv"
    pd.DataFrame(frame).to_csv(f, index=False)
    with pytest.raises(DataError) as exc:
        read_manifest(f)
    assert message in str(exc.value)
    assert str(f) in str(exc.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="manifest not found"):
        read_manifest(tmp_path / "nope.csv")
