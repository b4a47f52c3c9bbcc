"""Video decoding and evenly spaced frame sampling."""

from __future__ import annotations

import numpy as np
import pytest

from fakescope.data.video import probe_video, read_frames, sample_indices, write_video
from fakescope.errors import ConfigError, DataError


def _numbered(n, size=32):
    # frame k is a flat grey level 8k, recoverable after lossy coding
    return [np.full((size, size, 3), 8 * k, np.uint8) for k in range(n)]


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_roundtrip_and_even_sampling(tmp_path, suffix):
    path = write_video(tmp_path / f"v{suffix}", _numbered(20), fps=10)
    info = probe_video(path)
    assert (info.frame_count, info.width, info.height) == (20, 32, 32)
    got = read_frames(path, num_frames=4)
    idx = [i for i, _ in got]
    assert idx == [2, 7, 12, 17]  # centres of 4 segments of 5 frames, not the first 4
    for i, img in got:
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8
        assert abs(float(img.mean()) - 8 * i) < 4  # the decoded frame is frame i
    assert [i for i, _ in read_frames(path, stride=6)] == [0, 6, 12, 18]
    assert len(read_frames(path)) == 20


def test_sample_indices_formula():
    for total, n in [(10, 3), (300, 32), (7, 7), (5, 9)]:
        got = sample_indices(total, num_frames=n)
        expect = [int((i + 0.5) * total / n) for i in range(n)] if n < total else list(range(total))
        assert got.tolist() == expect
        assert len(set(got.tolist())) == len(got) and got.max() < total
    assert sample_indices(0, num_frames=4).tolist() == []
    with pytest.raises(ConfigError):
        sample_indices(10, num_frames=2, stride=2)
    with pytest.raises(ConfigError):
        sample_indices(10, stride=0)


def test_bad_files_raise_with_reason(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="zero-length"):
        read_frames(empty, num_frames=2)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 50)
    with pytest.raises(DataError, match="unreadable|no decodable"):
        read_frames(junk, num_frames=2)
    with pytest.raises(DataError, match="not found"):
        probe_video(tmp_path / "none.mp4")
    good = write_video(tmp_path / "g.mp4", _numbered(30), fps=10)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    try:
        frames = read_frames(cut, num_frames=4)
    except DataError as exc:  # the container index is gone: unreadable, with a reason
        assert "unreadable" in str(exc) or "no decodable" in str(exc)
    else:
        assert 0 < len(frames) <= 4
