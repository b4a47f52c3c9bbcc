"""Video streams with PyAV: time stamps, rotation, variable frame rate, bad frames; H.264 writing.

Frames are RGB ``uint8`` arrays ``(H, W, 3)``, upright: a phone clip's display matrix (or its
``rotate`` tag) is applied, so ``H, W`` are the displayed size. Time stamps ``t`` are seconds
from the stream's first frame, from the packets' presentation time stamps, so a
variable-frame-rate (VFR) clip keeps its real timing.

*Bad frames*: a packet the decoder rejects, a frame FFmpeg flags as corrupt, or a frame the
header lists but the file no longer holds (truncated file). They are skipped and counted
(:attr:`Frames.bad_frames`); a file with no decodable frame raises DataError naming it.

:func:`open_stream` reads the header and every packet's time stamp (no decoding but the first
frame, for the rotation): ``fps = (n - 1) / (t_last - t_first)``; ``vfr`` when some interval
differs from the median interval by more than ``VFR_TOLERANCE`` of it. :func:`resample_uniform`
puts a VFR clip's per-frame traces on a constant-rate grid.

:func:`write_clip` writes H.264 (libx264, yuv420p, CRF), MPEG-4 part 2 (``mp4v``) or lossless
FFV1 with PyAV; :mod:`fakescope.data.video` keeps OpenCV decoding and ``write_video``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from fakescope.errors import ConfigError, DataError

log = logging.getLogger(__name__)

VFR_TOLERANCE = 0.1
CODECS = {  # name -> (PyAV encoders to try in order, pixel format, containers)
    "h264": (("libx264", "libopenh264"), "yuv420p", (".mp4", ".mkv", ".mov")),
    "mp4v": (("mpeg4",), "yuv420p", (".mp4", ".avi", ".mkv", ".mov")),
    "ffv1": (("ffv1",), "bgr0", (".mkv", ".avi")),
}
TIME_BASE = Fraction(1, 90000)  # pts unit for clips written with explicit time stamps


def _av():
    try:
        import av
        import av.video.reformatter  # noqa: F401
    except ImportError as exc:  # pragma: no cover - av is a core dependency
        raise ConfigError("PyAV is not installed", hint="pip install av") from exc
    return av


@dataclass(frozen=True)
class StreamInfo:
    """A video stream as read from its packets.

    ``fps``: average rate from the time stamps; ``n_frames``: packets with a time stamp;
    ``width``/``height``: of the upright frames; ``rotation``: degrees (0, 90, 180, 270) the
    decoded picture is turned counter-clockwise for display (FFmpeg's display matrix
    convention); ``duration_s``: ``n_frames`` intervals long; ``vfr``: variable frame rate.
    """

    path: str
    fps: float
    n_frames: int
    width: int
    height: int
    rotation: int
    duration_s: float
    vfr: bool


def _open_container(path: Path):
    av = _av()
    if not path.is_file():
        raise DataError("video not found", path=path)
    if path.stat().st_size == 0:
        raise DataError("zero-length file (0 bytes)", path=path)
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise DataError(f"unreadable video ({exc.__class__.__name__}: corrupt, truncated or "
                        "not a video)", path=path) from exc
    if not container.streams.video:
        container.close()
        raise DataError("no video stream in the file", path=path)
    return container


def _norm_rotation(deg) -> int:
    return int(round(float(deg or 0) / 90.0)) % 4 * 90


def _frame_rotation(frame, tag) -> int:
    """Display rotation (counter-clockwise) from the frame's display matrix, else the legacy
    ``rotate`` stream tag (clockwise degrees), else 0."""
    rot = frame.rotation
    if not rot and tag is not None:
        try:
            rot = -float(tag)
        except ValueError:
            rot = 0
    return _norm_rotation(rot)


def _timing(pts: np.ndarray, time_base: Fraction, fallback_fps: float) -> tuple[float, float, bool]:
    """(fps, duration_s, vfr) from presentation time stamps (any order)."""
    t = np.sort(pts.astype(np.float64)) * float(time_base)
    if len(t) < 2 or t[-1] <= t[0]:
        fps = fallback_fps if fallback_fps > 0 else 0.0
        return fps, (len(t) / fps if fps else 0.0), False
    dt = np.diff(t)
    fps = (len(t) - 1) / (t[-1] - t[0])
    med = float(np.median(dt))
    vfr = bool(np.any(np.abs(dt - med) > VFR_TOLERANCE * med))
    return float(fps), float(t[-1] - t[0] + med), vfr


def open_stream(path: str | Path) -> StreamInfo:
    """Read a video's stream info (see :class:`StreamInfo`); DataError naming the file when it
    is missing, empty, not a video or has no video stream.

    Reads every packet's time stamp and decodes only until the first good frame (rotation).
    """
    path = Path(path)
    av = _av()
    container = _open_container(path)
    try:
        stream = container.streams.video[0]
        tag = stream.metadata.get("rotate")
        rotation, pts = None, []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.pts is not None:
                    pts.append(packet.pts)
                if rotation is None:
                    try:
                        frames = stream.decode(packet)
                    except av.FFmpegError:
                        continue
                    if frames:
                        rotation = _frame_rotation(frames[0], tag)
        except av.FFmpegError:
            pass  # truncated: keep the packets read so far
        rate = float(stream.average_rate or stream.guessed_rate or 0)
        fps, duration, vfr = _timing(np.asarray(pts, np.int64), stream.time_base or TIME_BASE,
                                     rate)
        w, h = stream.codec_context.width, stream.codec_context.height
        rotation = rotation or 0
        if rotation in (90, 270):
            w, h = h, w
        return StreamInfo(str(path), fps, len(pts), int(w), int(h), rotation, duration, vfr)
    finally:
        container.close()


def rotate_upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a decoded frame ``(H, W, 3)`` counter-clockwise by ``rotation`` degrees (a multiple
    of 90), as a player shows it; returns a C-contiguous array."""
    k = _norm_rotation(rotation) // 90
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


class Frames:
    """Iterable of ``(t_seconds, rgb (H, W, 3) uint8)``, upright; see :func:`iter_frames`.

    After (or during) iteration: ``decoded`` frames yielded, ``bad_frames`` skipped (see the
    module doc), ``rotation`` applied. Iterating a second time decodes the file again.
    """

    def __init__(self, path: str | Path, *, max_frames: int | None = None):
        if max_frames is not None and max_frames < 1:
            raise ConfigError(f"max_frames={max_frames}", hint="use at least 1 frame or None")
        self.path = Path(path)
        self.max_frames = max_frames
        self.decoded = self.bad_frames = self.rotation = 0
        _open_container(self.path).close()  # fail here, naming the file

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        av = _av()
        container = _open_container(self.path)
        self.decoded = self.bad_frames = 0
        stream = container.streams.video[0]
        tag = stream.metadata.get("rotate")
        tb = float(stream.time_base or TIME_BASE)
        step = 1.0 / float(stream.average_rate or stream.guessed_rate or 25)
        t0, t = stream.start_time, -step
        expected = int(stream.frames or 0)
        packets = failed = 0
        # One reformatter for the clip: it keeps its swscale context (to_ndarray builds a new
        # one per frame, ~40x slower on small frames).
        reformatter = av.video.reformatter.VideoReformatter()
        stopped = False
        try:
            for kind, frame in _decode(container, stream, av):
                if kind == "packet":
                    packets += 1
                    continue
                if kind == "error" or frame.is_corrupt:
                    failed += 1
                    continue
                if self.decoded == 0:
                    self.rotation = _frame_rotation(frame, tag)
                    if t0 is None:
                        t0 = frame.pts
                t = (frame.pts - (t0 or 0)) * tb if frame.pts is not None else t + step
                rgb = reformatter.reformat(frame, format="rgb24").to_ndarray()
                rgb = rotate_upright(rgb, self.rotation)
                self.decoded += 1
                self.bad_frames = failed
                yield float(t), rgb
                if self.max_frames is not None and self.decoded >= self.max_frames:
                    stopped = True
                    return
        finally:
            container.close()
            if not stopped:
                self.bad_frames = failed + (max(expected - packets, 0) if expected else 0)
        if self.decoded == 0:
            raise DataError(f"video has no decodable frames ({self.bad_frames} bad)",
                            path=self.path, hint="the file is corrupt or truncated")


def _decode(container, stream, av):
    """``("packet", None)`` per packet read, ``("frame", frame)`` per decoded frame,
    ``("error", None)`` per packet the decoder rejects; flushes the decoder at the end."""
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the demuxer's end-of-stream flush packet
                continue
            yield "packet", None
            try:
                frames = stream.decode(packet)
            except av.FFmpegError:
                yield "error", None
                continue
            for frame in frames:
                yield "frame", frame
    except av.FFmpegError:
        pass  # demuxing stops at a truncated or damaged container; flush what we have
    try:
        for frame in stream.decode(None):
            yield "frame", frame
    except av.FFmpegError:
        yield "error", None


def iter_frames(path: str | Path, *, max_frames: int | None = None) -> Frames:
    """Decode a video: an iterable of ``(t_seconds, rgb (H, W, 3) uint8)``, upright.

    Bad frames are skipped and counted in the returned object's ``bad_frames``; DataError
    naming the file when it cannot be opened, has no video stream (raised here) or has no
    decodable frame (raised at the end of the iteration).
    """
    return Frames(path, max_frames=max_frames)


@dataclass
class Clip:
    """A decoded clip: ``frames`` (T, H, W, 3) uint8, ``times`` (T,) seconds, its stream info,
    ``bad_frames`` skipped."""

    frames: np.ndarray
    times: np.ndarray
    info: StreamInfo
    bad_frames: int


def read_clip(path: str | Path, *, max_frames: int | None = None) -> Clip:
    """Decode a whole clip (or its first ``max_frames`` frames) into memory."""
    info = open_stream(path)
    it = iter_frames(path, max_frames=max_frames)
    times, frames = [], []
    for t, rgb in it:
        times.append(t)
        frames.append(rgb)
    return Clip(np.stack(frames), np.asarray(times, np.float64), info, it.bad_frames)


def resample_uniform(times, values, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Resample per-frame ``values`` (T, ...) at ``times`` (T,) onto a constant-rate grid.

    Grid: ``times[0] + k / fps`` for every k with the point inside ``[times[0], times[-1]]``.
    Each column is linearly interpolated between its two neighbouring samples (a NaN neighbour
    gives NaN). Returns ``(grid (K,), resampled (K, ...))``. For a VFR clip this is what
    spectral methods expect; for a CFR clip it returns the samples unchanged.
    """
    times = np.asarray(times, np.float64)
    values = np.asarray(values, np.float64)
    if times.ndim != 1 or len(times) != len(values):
        raise DataError(f"times {times.shape} and values {values.shape} do not match")
    if fps <= 0:
        raise ConfigError(f"fps={fps}", hint="use a positive frame rate")
    if len(times) < 2:
        return times.copy(), values.copy()
    if np.any(np.diff(times) <= 0):
        raise DataError("time stamps are not strictly increasing")
    n = int(np.floor((times[-1] - times[0]) * fps + 1e-6)) + 1
    grid = times[0] + np.arange(n) / fps
    flat = values.reshape(len(times), -1)
    out = np.empty((n, flat.shape[1]))
    for j in range(flat.shape[1]):
        out[:, j] = np.interp(grid, times, flat[:, j])
    return grid, out.reshape((n, *values.shape[1:]))


def _even(rgb: np.ndarray) -> np.ndarray:
    """Pad odd heights/widths by repeating the last row/column (yuv420p needs even sizes)."""
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        rgb = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return rgb


def _encoder(av, codec: str, path: Path) -> tuple[str, str]:
    if codec not in CODECS:
        raise ConfigError(f"codec {codec!r}", hint=f"use one of {', '.join(CODECS)}")
    names, pix_fmt, suffixes = CODECS[codec]
    if path.suffix.lower() not in suffixes:
        raise ConfigError(f"codec {codec} cannot be written to a {path.suffix or 'suffix-less'} "
                          "file", path=path, hint=f"use {' or '.join(suffixes)}")
    for name in names:
        if name in av.codecs_available:
            return name, pix_fmt
    if codec == "h264":
        log.warning("%s: no H.264 encoder in this PyAV build; writing mp4v (MPEG-4 part 2) "
                    "instead", path)
        return "mpeg4", "yuv420p"
    raise ConfigError(f"no {codec} encoder in this PyAV build", path=path,
                      hint="use codec='h264' or 'mp4v'")


def write_clip(path: str | Path, frames: Iterable[np.ndarray], fps: float, *,
               codec: str = "h264", crf: int = 23, times=None, rotation: int = 0) -> Path:
    """Write RGB frames ``(H, W, 3) uint8`` (an iterable or a (T, H, W, 3) array) as a video.

    ``codec``: ``h264`` (libx264, yuv420p, ``crf`` 0-51: 23 ~ FF++ c23, 40 ~ c40; falls back
    to mp4v with a logged warning when PyAV has no H.264 encoder), ``mp4v`` (MPEG-4 part 2;
    ``crf`` maps to the quantiser ``q = clip(round(crf / 6), 2, 31)``) or ``ffv1`` (lossless
    RGB; ``.mkv``/``.avi``). yuv420p needs even sizes: an odd height/width is padded by one
    repeated row/column. ``times`` (T,) seconds: explicit time stamps (a VFR clip); default
    ``k / fps``. ``rotation``: display rotation in degrees counter-clockwise, written as the
    stream's display matrix (a phone clip filmed sideways). Returns ``path``.
    """
    av = _av()
    path = Path(path)
    if fps <= 0:
        raise ConfigError(f"fps={fps}", hint="use a positive frame rate")
    if not 0 <= crf <= 51:
        raise ConfigError(f"crf={crf}", hint="use 0 (lossless) to 51 (worst)")
    name, pix_fmt = _encoder(av, codec, path)
    t_list = None if times is None else [float(t) for t in times]
    if t_list is not None and np.any(np.diff(t_list) <= 0):
        raise DataError("time stamps are not strictly increasing", path=path)
    path.parent.mkdir(parents=True, exist_ok=True)
    container = av.open(str(path), "w")
    n = 0
    try:
        stream = None
        for n, rgb in enumerate(frames):
            rgb = np.asarray(rgb)
            if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
                raise DataError(f"frame {n}: expected (H, W, 3) uint8, got {rgb.shape} "
                                f"{rgb.dtype}", path=path)
            if pix_fmt == "yuv420p":
                rgb = _even(rgb)
            if stream is None:
                stream = _add_stream(container, name, pix_fmt, rgb.shape, fps, crf, t_list,
                                     rotation)
                size = rgb.shape
            elif rgb.shape != size:
                raise DataError(f"frame {n}: size {rgb.shape[:2]} differs from {size[:2]}",
                                path=path)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            if t_list is not None:
                if n >= len(t_list):
                    raise DataError(f"more frames than time stamps ({len(t_list)})", path=path)
                frame.pts, frame.time_base = int(round(t_list[n] / TIME_BASE)), TIME_BASE
            container.mux(stream.encode(frame))
        if stream is None:
            raise DataError("no frames to write", path=path)
        container.mux(stream.encode(None))
    except BaseException:
        container.close()
        path.unlink(missing_ok=True)
        raise
    container.close()
    return path


def _add_stream(container, name, pix_fmt, shape, fps, crf, times, rotation):
    rate = Fraction(fps).limit_denominator(1001)
    stream = container.add_stream(name, rate=rate)
    stream.height, stream.width = shape[:2]
    stream.pix_fmt = pix_fmt
    if times is not None:
        stream.codec_context.time_base = TIME_BASE
    if name == "libx264":
        stream.options = {"crf": str(int(crf)), "preset": "medium"}
    elif name == "mpeg4":
        q = int(np.clip(round(crf / 6), 2, 31))
        stream.options = {"flags": "+qscale", "global_quality": str(q * 118)}  # FF_QP2LAMBDA
    if rotation:
        stream.set_display_rotation(float(rotation))
    return stream
