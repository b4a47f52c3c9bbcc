"""PyAV decoding: frame counts, time stamps, VFR, rotation, damaged files; H.264 writing."""

from __future__ import annotations

import numpy as np
import pytest

from fakescope.data.video_stream import (
    iter_frames,
    open_stream,
    read_clip,
    resample_uniform,
    rotate_upright,
    write_clip,
)
from fakescope.errors import ConfigError, DataError


def _levels(n, h=64, w=64):
    # frame k is a flat grey level 5k + 20 with a red top-left corner marking "up"
    out = []
    for k in range(n):
        f = np.full((h, w, 3), 5 * k + 20, np.uint8)
        f[:8, :8] = (250, 0, 0)
        out.append(f)
    return out


def _level(rgb) -> float:
    return float(rgb[16:, 16:].mean())


@pytest.mark.parametrize("codec,crf,suffix", [("h264", 23, ".mp4"), ("h264", 40, ".mp4"),
                                              ("mp4v", 23, ".mp4"), ("ffv1", 23, ".mkv")])
def test_write_and_read_back(tmp_path, codec, crf, suffix):
    path = write_clip(tmp_path / f"c{suffix}", _levels(40), 25, codec=codec, crf=crf)
    info = open_stream(path)
    assert (info.n_frames, info.width, info.height, info.rotation) == (40, 64, 64, 0)
    assert info.fps == pytest.approx(25, rel=1e-3) and not info.vfr
    assert info.duration_s == pytest.approx(1.6, abs=0.01)
    it = iter_frames(path)
    got = list(it)
    assert len(got) == 40 and it.bad_frames == 0 and it.decoded == 40
    times = np.array([t for t, _ in got])
    np.testing.assert_allclose(times, np.arange(40) / 25, atol=1e-3)
    tol = 0 if codec == "ffv1" else 4
    for k, (_, rgb) in enumerate(got):
        assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
        assert abs(_level(rgb) - (5 * k + 20)) <= tol + 0.5


def test_crf_controls_size_and_odd_sizes_are_padded(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (33, 47, 3), dtype=np.uint8) for _ in range(10)]
    hi = write_clip(tmp_path / "hi.mp4", frames, 30, crf=23)
    lo = write_clip(tmp_path / "lo.mp4", frames, 30, crf=40)
    assert lo.stat().st_size < hi.stat().st_size / 2
    clip = read_clip(hi)
    assert clip.frames.shape == (10, 34, 48, 3)  # padded to even by one repeated row/column
    assert read_clip(write_clip(tmp_path / "odd.mkv", frames, 30, codec="ffv1")).frames.shape \
        == (10, 33, 47, 3)  # FFV1 RGB keeps odd sizes, losslessly


def test_variable_frame_rate(tmp_path):
    # alternating 20 ms and 60 ms intervals: 25 fps on average, far from constant
    dt = np.where(np.arange(39) % 2, 0.06, 0.02)
    times = np.concatenate([[0.0], np.cumsum(dt)])
    path = write_clip(tmp_path / "vfr.mp4", _levels(40), 25, times=times)
    info = open_stream(path)
    assert info.vfr and info.n_frames == 40
    assert info.fps == pytest.approx(39 / times[-1], rel=1e-3)
    got = [t for t, _ in iter_frames(path)]
    np.testing.assert_allclose(got, times, atol=1e-3)
    cfr = open_stream(write_clip(tmp_path / "cfr.mkv", _levels(40), 30, codec="ffv1"))
    assert not cfr.vfr  # Matroska's 1 ms clock rounds 33.3 ms to 33/34 ms: still constant


def test_resample_uniform():
    times = np.array([0.0, 0.02, 0.08, 0.1, 0.16, 0.18])
    values = np.stack([10 * times, -times], axis=1)  # linear: interpolation is exact
    grid, out = resample_uniform(times, values, 25)
    np.testing.assert_allclose(grid, [0, 0.04, 0.08, 0.12, 0.16])
    np.testing.assert_allclose(out, np.stack([10 * grid, -grid], axis=1))
    g2, o2 = resample_uniform(np.arange(5) / 10, np.arange(5.0), 10)
    np.testing.assert_allclose(o2, np.arange(5.0))
    with pytest.raises(DataError, match="increasing"):
        resample_uniform([0, 0.1, 0.1], [1, 2, 3], 10)


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotation_metadata_is_applied(tmp_path, rotation):
    path = write_clip(tmp_path / "r.mp4", _levels(10, h=48, w=64), 25, rotation=rotation)
    info = open_stream(path)
    assert info.rotation == rotation % 360
    up = (64, 48) if rotation % 180 else (48, 64)
    assert (info.height, info.width) == up
    it = iter_frames(path)
    frames = [f for _, f in it]
    assert it.rotation == rotation % 360 and frames[0].shape[:2] == up
    # the red marker of the top-left corner ends where a player shows it
    corner = {90: (slice(-8, None), slice(None, 8)), 270: (slice(None, 8), slice(-8, None)),
              180: (slice(-8, None), slice(-8, None))}[rotation % 360]
    assert frames[0][corner][..., 0].mean() > 200 and frames[0][corner][..., 1].mean() < 60


def test_rotate_upright_helper():
    img = np.arange(6).reshape(2, 3)[..., None].repeat(3, axis=2)
    assert rotate_upright(img, 0) is img
    assert rotate_upright(img, 90)[..., 0].tolist() == [[2, 5], [1, 4], [0, 3]]  # ccw
    assert rotate_upright(img, -90)[..., 0].tolist() == [[3, 0], [4, 1], [5, 2]]
    assert rotate_upright(img, 180)[..., 0].tolist() == [[5, 4, 3], [2, 1, 0]]


def _faststart(tmp_path):
    # the index (moov) first, as streaming files have it, so a cut end leaves a readable head
    import av

    path = tmp_path / "fs.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as c:
        s = c.add_stream("libx264", rate=25)
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        for _ in range(40):
            f = av.VideoFrame.from_ndarray(rng.integers(0, 255, (64, 64, 3), np.uint8),
                                           format="rgb24")
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    return path


def test_truncated_file_keeps_good_frames_and_counts_bad(tmp_path):
    data = _faststart(tmp_path).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    it = iter_frames(cut)
    n = len(list(it))
    assert 15 <= n < 40
    assert it.bad_frames == 40 - n
    assert open_stream(cut).n_frames < 40


def test_damaged_middle_is_skipped(tmp_path):
    data = bytearray(_faststart(tmp_path).read_bytes())
    mid = len(data) // 2
    data[mid:mid + 3000] = np.random.default_rng(1).integers(0, 256, 3000, np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    it = iter_frames(bad)
    frames = list(it)
    assert 30 <= len(frames) < 40 and it.bad_frames >= 1
    assert len(frames) + it.bad_frames >= 40
    t = [x for x, _ in frames]
    assert t == sorted(t)  # time stamps stay those of the surviving frames


def test_unreadable_files_raise_naming_them(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for path, reason in ((garbage, "unreadable"), (empty, "zero-length"),
                         (tmp_path / "none.mp4", "not found")):
        for fn in (open_stream, iter_frames):
            with pytest.raises(DataError, match=reason) as exc:
                fn(path)
            assert str(path) in str(exc.value)
    cut = tmp_path / "head.mp4"  # no index at the end: nothing to read
    cut.write_bytes(write_clip(tmp_path / "x.mp4", _levels(10), 25).read_bytes()[:-2000])
    with pytest.raises(DataError, match="head.mp4"):
        list(iter_frames(cut))


def test_audio_only_file_has_no_video_stream(tmp_path):
    import av

    path = tmp_path / "a.wav"
    with av.open(str(path), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16",
                                           layout="mono")
        frame.sample_rate, frame.pts = 8000, 0
        c.mux(s.encode(frame))
        c.mux(s.encode(None))
    with pytest.raises(DataError, match="no video stream"):
        open_stream(path)


def test_max_frames_and_bad_options(tmp_path):
    path = write_clip(tmp_path / "c.mp4", _levels(20), 25)
    it = iter_frames(path, max_frames=5)
    assert len(list(it)) == 5 and it.bad_frames == 0
    assert read_clip(path, max_frames=7).frames.shape[0] == 7
    with pytest.raises(ConfigError, match="codec"):
        write_clip(tmp_path / "c.mp4", _levels(2), 25, codec="vp9")
    with pytest.raises(ConfigError, match=r"\.mkv"):
        write_clip(tmp_path / "c.mp4", _levels(2), 25, codec="ffv1")
    with pytest.raises(DataError, match="size"):
        write_clip(tmp_path / "d.mp4", [_levels(1)[0], _levels(1, h=32)[0]], 25)
    assert not (tmp_path / "d.mp4").exists()  # a failed write leaves no half file
    with pytest.raises(DataError, match="no frames"):
        write_clip(tmp_path / "e.mp4", [], 25)
    with pytest.raises(ConfigError):
        iter_frames(path, max_frames=0)
