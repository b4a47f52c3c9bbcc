import numpy as np
import pytest

from fakescope.data.images import list_media, load_image, save_image
from fakescope.errors import DataError


def test_roundtrip_png(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (9, 7, 3), dtype=np.uint8)
    assert np.array_equal(load_image(save_image(tmp_path / "a.png", img)), img)


@pytest.mark.parametrize("content,problem", [
    (b"", "empty file"),
    (b"not an image at all", "not a readable image"),
])
def test_bad_files(tmp_path, content, problem):
    f = tmp_path / "x.png"
    f.write_bytes(content)
    with pytest.raises(DataError, match=problem):
        load_image(f)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated(tmp_path, suffix):
    img = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    f = save_image(tmp_path / f"t{suffix}", img)
    f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
    with pytest.raises(DataError, match="truncated"):
        load_image(f)


def test_list_media(tmp_path):
    img = np.zeros((4, 4, 3), np.uint8)
    save_image(tmp_path / "d" / "b.png", img)
    save_image(tmp_path / "d" / "sub" / "a.jpg", img)
    (tmp_path / "d" / "notes.txt").write_text("x")
    assert [p.name for p in list_media([tmp_path / "d"])] == ["b.png", "a.jpg"]
    with pytest.raises(DataError, match="no such file"):
        list_media([tmp_path / "missing"])
    assert list_media([tmp_path / "missing"], keep_missing=True) == [tmp_path / "missing"]
