"""Signal maps: FakeCatcher-style PPG maps and optical-flow motion maps, one image per window.

A map is ``(3, w, 2C)`` float32 for a window of ``w`` samples of a clip's ``C = rows * cols``
mid-face grid cells (:func:`~fakescope.signals.regions.face_grid`, row-major), three channels:

- left half, columns ``0 .. C-1``: per cell the channel's signal over the window, row ``i`` =
  sample ``start + i``, **z-scored** within the window (per cell and channel: zero mean, unit
  standard deviation; a flat signal, std <= 1e-10, gives zeros). FakeCatcher min-max scaled;
  we z-score because one spike (a compression glitch, a blink) sets a min-max scale for the
  whole column and moves its mean, while the z-score keeps every column zero-centred with the
  same power, which is what a small BatchNorm CNN wants.
- right half, columns ``C .. 2C-1``: per cell the power spectrum of that (mean-removed) signal
  inside ``spec.band``, row ``k`` = frequency ``f_k = lo + (k + 1/2)(hi - lo) / w`` (``w`` bins
  of equal width from the low to the high edge, ``hi`` clipped to Nyquist), evaluated exactly
  by a direct DFT of the Hann-windowed signal ``P_k = |sum_n h_n x_n exp(-2 pi i f_k n / fps)|^2``
  (the periodogram with infinite zero-padding, sampled at the bin centres), divided by its
  maximum over the band (per cell and channel, so in [0, 1]; all-zero stays zero). A 64-frame
  window at 30 fps resolves ~2 / 2.1 s ~ 0.9 Hz (Hann main lobe), so the peak is broad but
  sits at the pulse frequency.

Kinds (:class:`MapSpec`):

- ``ppg`` (:func:`ppg_maps`): channels = the pulse signals by CHROM, POS and GREEN
  (:func:`~fakescope.signals.rppg.pulse_signal`) of each cell's RGB trace. They are computed
  **once over the whole clip** per cell and then cut into windows: rPPG refuses segments under
  :data:`~fakescope.signals.rppg.MIN_SECONDS` (4 s), longer than a 64-frame window at 30 fps,
  and the whole-clip signal is both cheaper (one band-pass per cell and method instead of one
  per window) and better (no filter edge effects inside windows). So a clip under 4 s is a
  DataError even when it holds one window.
- ``motion`` (:func:`motion_maps`): channels = per-cell optical flow ``dx``, ``dy`` (px/frame,
  :func:`~fakescope.signals.motion.grid_flow_traces`) minus their per-frame median over the
  cells (the global head motion; what stays is the face's own deformation and the jitter of
  blended regions), and the magnitude ``sqrt(dx^2 + dy^2)`` of that residual. The flow is not
  band-passed (frame-to-frame jitter, the cue of per-frame generators, is broadband); its
  spectrum half shows ``spec.band`` only. This "flow map into the same CNN" design reuses the
  PPG-map layout, so the one small CNN of :mod:`fakescope.models.bio` scores both kinds, and it
  needs only the grid flow the signal pipeline already writes (CPU-sized: no motion
  magnification, no landmark GRU). Window starts index flow samples (sample ``t`` = frame
  ``t`` -> ``t + 1``).

Windows start at ``0, stride, 2 stride, ...`` while the window fits (:func:`window_starts`).
Missing data: a frame where every cell is NaN (no face) is a missing frame; a window with more
than 25 % missing frames is dropped (so the maps come with their ``starts``). Within a cell, NaN
samples are filled by linear interpolation (nearest value at the ends) before the pulse / flow
is used; a cell with more than 25 % NaN samples in a window (or NaN throughout, or an RGB trace
rPPG refuses) is all zeros in both halves of that window's map.

:func:`clip_maps` reads the arrays the signal pipeline writes (``OUT/clips/<key>.npz``);
:func:`map_image` / :func:`save_map_png` render one map for viewing.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy import signal as sps

from fakescope.errors import ConfigError, DataError
from fakescope.signals.rppg import check_length, pulse_signal
from fakescope.signals.traces import interpolate_gaps

KINDS = ("ppg", "motion")
#: rPPG method of each PPG-map channel, in channel order.
PPG_CHANNELS = ("chrom", "pos", "green")
#: Motion-map channels, in order.
MOTION_CHANNELS = ("dx", "dy", "magnitude")
#: A window with more missing frames (no face) than this is dropped; a cell with more NaN
#: samples than this in a window is zeroed.
MAX_MISSING = 0.25
#: Smallest standard deviation that is z-scored (smaller: a flat signal, zeros).
FLAT_STD = 1e-10
#: Frames per map window at least (shorter windows have no spectrum worth a map).
MIN_WINDOW = 8
#: Range of the z-scored half drawn by map_image: [-Z_RANGE, Z_RANGE] -> [0, 255].
Z_RANGE = 3.0


@dataclass(frozen=True)
class MapSpec:
    """What a map is: ``kind`` (``ppg`` / ``motion``), ``window`` samples per map, ``stride``
    between window starts, the grid (``rows x cols`` cells, as the signals were extracted) and
    the spectrum ``band`` (Hz)."""

    kind: str
    window: int = 64
    stride: int = 32
    rows: int = 4
    cols: int = 8
    band: tuple = (0.7, 3.0)

    def __post_init__(self):
        try:
            band = tuple(float(b) for b in self.band)
        except (TypeError, ValueError):
            band = tuple(self.band) if isinstance(self.band, (list, tuple)) else (self.band,)
        object.__setattr__(self, "band", band)

    @property
    def cells(self) -> int:
        return self.rows * self.cols

    def check(self) -> MapSpec:
        """``self`` if every value is usable, else ConfigError naming the bad one."""
        if self.kind not in KINDS:
            raise ConfigError(f"unknown map kind {self.kind!r}", hint=f"use {', '.join(KINDS)}")
        for name, lo in (("window", MIN_WINDOW), ("stride", 1), ("rows", 1), ("cols", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ConfigError(f"map {name}={v!r}", hint=f"use an integer >= {lo}")
        b = self.band
        if len(b) != 2 or not all(isinstance(x, float) and np.isfinite(x) for x in b) \
                or not 0 < b[0] < b[1]:
            raise ConfigError(f"map band={self.band!r}",
                              hint="use (low, high) in Hz with 0 < low < high")
        return self

    def to_dict(self) -> dict:
        """JSON-able dict; ``MapSpec(**d)`` rebuilds it."""
        return {"kind": self.kind, "window": int(self.window), "stride": int(self.stride),
                "rows": int(self.rows), "cols": int(self.cols), "band": list(self.band)}


def window_starts(n: int, spec: MapSpec) -> np.ndarray:
    """Start indices ``(N,)`` int64 of the windows of ``spec.window`` samples, every
    ``spec.stride``, that fit in ``n`` samples (empty when ``n < window``)."""
    return np.arange(0, max(int(n) - spec.window + 1, 0), spec.stride, dtype=np.int64)


def _too_short(n: int, spec: MapSpec, what: str = "frames") -> DataError:
    return DataError(f"clip too short for one map window: {n} {what} < window {spec.window}",
                     hint="use a longer clip or a smaller map window")


def _check_cells(x: np.ndarray, spec: MapSpec, depth: int, name: str) -> None:
    if x.ndim != 3 or x.shape[2] != depth:
        raise DataError(f"{name} must have shape (T, C, {depth}), got {x.shape}")
    if x.shape[1] != spec.cells:
        raise DataError(f"{name} has {x.shape[1]} grid cells, the map spec expects "
                        f"{spec.rows} x {spec.cols} = {spec.cells}",
                        hint="set the spec's rows / cols to the grid the signals used")


def _cut(x: np.ndarray, starts: np.ndarray, w: int) -> np.ndarray:
    """Windows ``(N, w, ...)`` of ``x`` ``(n, ...)`` at ``starts``."""
    return x[starts[:, None] + np.arange(w)[None, :]]


def _zscore(x: np.ndarray) -> np.ndarray:
    """``x`` ``(N, w, C, K)`` z-scored along the window axis; flat signals -> 0."""
    mu = x.mean(axis=1, keepdims=True)
    sd = x.std(axis=1, keepdims=True)
    return np.divide(x - mu, sd, out=np.zeros_like(x), where=sd > FLAT_STD)


def band_frequencies(w: int, fps: float, band) -> np.ndarray:
    """The ``w`` bin centres (Hz) of the spectrum half: ``lo + (k + 1/2)(hi - lo) / w`` with
    ``hi`` clipped to Nyquist."""
    lo, hi = float(band[0]), min(float(band[1]), fps / 2.0)
    if not 0 < lo < hi:
        raise DataError(f"map band {band[0]}-{band[1]} Hz is empty at {fps:g} fps",
                        hint="the frame rate is too low for this band")
    return lo + (np.arange(w) + 0.5) * (hi - lo) / w


def band_spectra(x: np.ndarray, fps: float, band) -> np.ndarray:
    """Power spectra ``(N, w, C, K)`` in [0, 1] of windows ``x`` ``(N, w, C, K)`` (see module
    doc: Hann window, direct DFT at :func:`band_frequencies`, divided by the band maximum)."""
    w = x.shape[1]
    f = band_frequencies(w, fps, band)
    n = np.arange(w)
    kernel = sps.get_window("hann", w)[None, :] * np.exp(-2j * np.pi * f[:, None] * n / fps)
    xc = x - x.mean(axis=1, keepdims=True)
    p = np.abs(np.einsum("fn,bnck->bfck", kernel, xc, optimize=True)) ** 2
    peak = p.max(axis=1, keepdims=True)
    return np.divide(p, peak, out=np.zeros_like(p), where=peak > 0)


def _assemble(x: np.ndarray, cell_nan: np.ndarray, fps: float,
              spec: MapSpec) -> tuple[np.ndarray, np.ndarray]:
    """Maps ``(N, 3, w, 2C)`` and starts from signals ``x`` ``(n, C, 3)`` (gaps filled, NaN only
    in dead cells) and the input NaN mask ``cell_nan`` ``(n, C)``."""
    w, c = spec.window, x.shape[1]
    starts = window_starts(len(x), spec)
    missing = cell_nan.all(axis=1)
    keep = np.array([missing[s:s + w].mean() <= MAX_MISSING for s in starts], dtype=bool)
    starts = starts[keep]
    if len(starts) == 0:
        return np.zeros((0, 3, w, 2 * c), np.float32), starts
    dead = ~np.isfinite(x).all(axis=(0, 2))  # (C,)
    xw = _cut(np.nan_to_num(x), starts, w)  # (N, w, C, 3)
    zero = (_cut(cell_nan, starts, w).mean(axis=1) > MAX_MISSING) | dead[None, :]  # (N, C)
    maps = np.concatenate([_zscore(xw), band_spectra(xw, fps, spec.band)], axis=2)
    maps = np.where(np.concatenate([zero, zero], axis=1)[:, None, :, None], 0.0, maps)
    return maps.transpose(0, 3, 1, 2).astype(np.float32), starts


def _filled(x: np.ndarray) -> np.ndarray:
    """``x`` ``(n, C, K)`` with every NaN run filled (linear, nearest at the ends); a cell NaN
    throughout stays NaN."""
    return interpolate_gaps(x, len(x), edges="hold")


def ppg_maps(grid_traces, fps: float, spec: MapSpec) -> tuple[np.ndarray, np.ndarray]:
    """PPG maps ``(N, 3, w, 2C)`` float32 (channels CHROM, POS, GREEN) and their window starts
    ``(N,)`` (frames) of grid colour traces ``(T, C, 3)`` (mean RGB per cell and frame, NaN
    without a face) at ``fps``; see the module doc. DataError for a clip shorter than one
    window or than rPPG's 4 s."""
    spec.check()
    if spec.kind != "ppg":
        raise ConfigError(f"ppg_maps got a {spec.kind!r} map spec", hint="use kind='ppg'")
    x = np.asarray(grid_traces, dtype=np.float64)
    _check_cells(x, spec, 3, "grid_traces")
    if len(x) < spec.window:
        raise _too_short(len(x), spec)
    check_length(len(x), fps)
    cell_nan = np.isnan(x).any(axis=2)
    filled = _filled(x)
    sig = np.full(x.shape, np.nan)
    for c in range(x.shape[1]):
        if not np.isfinite(filled[:, c]).all():
            continue
        try:
            for k, method in enumerate(PPG_CHANNELS):
                sig[:, c, k] = pulse_signal(filled[:, c], fps, method)
        except DataError:  # a black / clipped cell (non-positive mean): a dead cell
            sig[:, c] = np.nan
    return _assemble(sig, cell_nan, float(fps), spec)


def _face_missing(trajectories, n_frames: int) -> np.ndarray:
    t = np.asarray(trajectories, dtype=np.float64)
    if t.ndim != 3 or t.shape[0] != n_frames or t.shape[2] != 2:
        raise DataError(f"trajectories must have shape ({n_frames}, P, 2) for {n_frames - 1} "
                        f"flow samples, got {t.shape}")
    return np.isnan(t).reshape(n_frames, -1).any(axis=1)


def motion_maps(grid_flow, fps: float, spec: MapSpec, *,
                trajectories=None) -> tuple[np.ndarray, np.ndarray]:
    """Motion maps ``(N, 3, w, 2C)`` float32 (channels dx, dy, magnitude of the flow minus its
    per-frame median over cells) and their window starts ``(N,)`` (flow samples) of grid flow
    traces ``(T - 1, C, 2)`` px/frame at ``fps``; see the module doc. ``trajectories``
    ``(T, P, 2)`` (the pipeline's landmark trajectories, NaN without a face), when given, also
    marks flow sample ``t`` missing when frame ``t + 1`` has no face (the grid flow is averaged
    over frame ``t``'s cells only)."""
    spec.check()
    if spec.kind != "motion":
        raise ConfigError(f"motion_maps got a {spec.kind!r} map spec", hint="use kind='motion'")
    f = np.array(grid_flow, dtype=np.float64)
    _check_cells(f, spec, 2, "grid_flow_traces")
    if len(f) < spec.window:
        raise _too_short(len(f), spec, "flow samples")
    if trajectories is not None:
        gone = _face_missing(trajectories, len(f) + 1)
        f[gone[:-1] | gone[1:]] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames: median NaN
        med = np.nanmedian(f, axis=1, keepdims=True)  # (n, 1, 2)
    r = f - med
    x = np.concatenate([r, np.hypot(r[..., :1], r[..., 1:])], axis=2)  # (n, C, 3)
    return _assemble(_filled(x), np.isnan(x).any(axis=2), float(fps), spec)


def _load(src) -> tuple[Mapping, str | None]:
    if isinstance(src, Mapping):
        return src, None
    path = Path(src)
    if not path.is_file():
        raise DataError("signals file not found", path=path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}, str(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"unreadable signals file ({exc})", path=path) from exc


def clip_maps(npz_path_or_arrays, spec: MapSpec) -> tuple[np.ndarray, np.ndarray]:
    """Maps ``(N, 3, w, 2C)`` float32 and window starts ``(N,)`` of one clip from the signal
    pipeline's ``<key>.npz`` (a path, or its arrays as a mapping): ``grid_traces`` and ``fps``
    for ``ppg``; ``grid_flow_traces``, ``fps`` (and ``trajectories`` if present) for
    ``motion``. DataError naming the file when an array is missing, the clip is too short, or
    no window has a face in at least 75 % of its frames."""
    spec.check()
    arrays, path = _load(npz_path_or_arrays)
    key = "grid_traces" if spec.kind == "ppg" else "grid_flow_traces"
    if key not in arrays:
        why = ": signals were extracted with flow=none" if spec.kind == "motion" else ""
        raise DataError(f"no {key} array{why} (has {', '.join(sorted(arrays)) or 'none'})",
                        path=path, hint="re-extract the signals with flow=farneback or dis"
                        if spec.kind == "motion" else None)
    if "fps" not in arrays:
        raise DataError("no fps array", path=path)
    fps = float(np.asarray(arrays["fps"]))
    try:
        if spec.kind == "ppg":
            maps, starts = ppg_maps(arrays[key], fps, spec)
        else:
            maps, starts = motion_maps(arrays[key], fps, spec,
                                       trajectories=arrays.get("trajectories"))
    except DataError as exc:
        if exc.path is not None:
            raise
        raise DataError(exc.problem, path=path, hint=exc.hint) from exc
    if len(maps) == 0:
        raise DataError(f"no map window has a face in at least {1 - MAX_MISSING:.0%} of its "
                        "frames", path=path)
    return maps, starts


def map_image(maps_window, *, scale: int = 4) -> np.ndarray:
    """An RGB uint8 image ``(scale w, scale 2C, 3)`` of one map ``(3, w, 2C)``: channels as red,
    green, blue; the signal half from ``[-3, 3]`` (z-scores) and the spectrum half from
    ``[0, 1]`` to 0-255; each value a ``scale x scale`` block (nearest neighbour)."""
    m = np.asarray(maps_window, dtype=np.float32)
    if m.ndim != 3 or m.shape[0] != 3 or m.shape[2] % 2:
        raise DataError(f"a map must have shape (3, w, 2C), got {m.shape}")
    c = m.shape[2] // 2
    sig = (m[:, :, :c] + Z_RANGE) / (2 * Z_RANGE)
    img = np.clip(np.concatenate([sig, m[:, :, c:]], axis=2), 0.0, 1.0)
    img = np.rint(img.transpose(1, 2, 0) * 255).astype(np.uint8)
    s = max(int(scale), 1)
    return np.ascontiguousarray(img.repeat(s, axis=0).repeat(s, axis=1))


def save_map_png(path, map_window, *, scale: int = 4) -> Path:
    """Write :func:`map_image` of ``map_window`` ``(3, w, 2C)`` to ``path`` (PNG)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = map_image(map_window, scale=scale)
    if not cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
        raise DataError("cannot write the map image", path=path, hint="use a .png path")
    return path
