"""Signal maps: a known pulse / oscillation peaks at its bin, shapes and windows, missing data,
errors that name the file, the PNG rendering."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakescope.errors import ConfigError, DataError
from fakescope.signals.maps import (
    MapSpec,
    band_frequencies,
    clip_maps,
    map_image,
    motion_maps,
    ppg_maps,
    save_map_png,
    window_starts,
)

FPS, T, C = 30.0, 180, 32
PBV = np.array([0.33, 0.77, 0.53]) / np.linalg.norm([0.33, 0.77, 0.53])
SKIN = np.array([172.0, 121.0, 98.0])


def grid_rgb(hz: float | None, *, frames=T, amp=0.01, noise=0.1, seed=0) -> np.ndarray:
    """Grid traces ``(frames, 32, 3)``: skin colour x (1 + amp sin(2 pi hz t + phase_c) PBV)
    plus camera noise, a random phase per cell; no pulse when ``hz`` is None."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / FPS
    out = np.empty((frames, C, 3))
    for c in range(C):
        p = np.sin(2 * np.pi * hz * t + rng.uniform(0, 2 * np.pi)) if hz else np.zeros(frames)
        out[:, c] = SKIN * (1 + amp * p[:, None] * PBV) + rng.normal(0, noise, (frames, 3))
    return out


def peak_hz(maps: np.ndarray) -> np.ndarray:
    """Frequency (Hz) of the spectrum maximum ``(N, 3, C)`` per window, channel and cell."""
    w = maps.shape[2]
    f = 0.7 + (np.arange(w) + 0.5) * (3.0 - 0.7) / w  # the documented bin centres
    return f[maps[:, :, :, C:].argmax(axis=2)]


def test_window_starts_and_spec():
    spec = MapSpec("ppg")
    assert list(window_starts(180, spec)) == [0, 32, 64, 96]
    assert list(window_starts(64, spec)) == [0]
    assert len(window_starts(63, spec)) == 0
    assert spec.to_dict() == {"kind": "ppg", "window": 64, "stride": 32, "rows": 4, "cols": 8,
                              "band": [0.7, 3.0]}
    assert MapSpec(**spec.to_dict()) == spec
    # 3 Hz clipped to Nyquist (2 Hz at 4 fps): 4 bins of 0.375 Hz from 0.5 Hz
    assert np.allclose(band_frequencies(4, 4.0, (0.5, 3.0)), [0.6875, 1.0625, 1.4375, 1.8125])
    for bad in (MapSpec("pulse"), MapSpec("ppg", window=4), MapSpec("ppg", stride=0),
                MapSpec("ppg", band=(3.0, 0.7)), MapSpec("ppg", band=(0.7,))):
        with pytest.raises(ConfigError):
            bad.check()


def test_ppg_map_peaks_at_the_pulse_in_every_cell_and_not_without_one():
    spec = MapSpec("ppg")
    maps, starts = ppg_maps(grid_rgb(1.2), FPS, spec)
    assert maps.shape == (4, 3, 64, 64) and maps.dtype == np.float32
    assert list(starts) == [0, 32, 64, 96]
    assert np.all(np.abs(peak_hz(maps) - 1.2) < 0.15)
    spectra, sig = maps[:, :, :, C:], maps[:, :, :, :C]
    assert spectra.min() >= 0 and np.allclose(spectra.max(axis=2), 1.0)
    assert np.allclose(sig.mean(axis=2), 0, atol=1e-5) and np.allclose(sig.std(axis=2), 1, atol=1e-4)
    # channels are CHROM, POS, GREEN of the same pulse: strongly correlated in every cell
    assert np.corrcoef(sig[0, 0, :, 0], sig[0, 2, :, 0])[0, 1] > 0.8
    noise, _ = ppg_maps(grid_rgb(None), FPS, spec)
    assert (np.abs(peak_hz(noise) - 1.2) < 0.15).mean() < 0.4


def test_ppg_map_missing_cells_frames_and_windows():
    x = grid_rgb(1.2, frames=240)
    x[:, 5] = np.nan                 # a cell never seen -> zeros everywhere
    x[0:40, 7] = np.nan              # a cell missing in most of window 0 -> zeros there only
    x[100:105] = np.nan              # 5 frames without a face: filled, window kept
    x[170:240] = np.nan              # no face from frame 170: windows 128 and 160 dropped
    maps, starts = ppg_maps(x, FPS, MapSpec("ppg"))
    assert list(starts) == [0, 32, 64, 96] and np.isfinite(maps).all()
    assert np.all(maps[:, :, :, [5, C + 5]] == 0)
    assert np.all(maps[0, :, :, [7, C + 7]] == 0) and np.any(maps[1, :, :, 7] != 0)
    assert np.all(np.abs(peak_hz(maps[2:4])[:, :, [0, 1, 2, 3, 8, 20]] - 1.2) < 0.15)


def test_ppg_map_errors():
    with pytest.raises(DataError, match="too short for one map window: 50 frames < window 64"):
        ppg_maps(grid_rgb(1.2, frames=50), FPS, MapSpec("ppg"))
    with pytest.raises(DataError, match="4.0 s"):  # one window, but under rPPG's 4 s
        ppg_maps(grid_rgb(1.2, frames=100), FPS, MapSpec("ppg"))
    with pytest.raises(DataError, match="2 x 8 = 16"):
        ppg_maps(grid_rgb(1.2), FPS, MapSpec("ppg", rows=2))
    with pytest.raises(ConfigError):
        ppg_maps(grid_rgb(1.2), FPS, MapSpec("motion"))


def flow(seed=0) -> np.ndarray:
    """Grid flow ``(T - 1, 32, 2)``: a large global head translation common to all cells, small
    noise, and cell 9 oscillating 0.3 px/frame in x at 1.5 Hz."""
    rng = np.random.default_rng(seed)
    t = np.arange(T - 1) / FPS
    f = rng.normal(0, 0.03, (T - 1, C, 2))
    f += np.array([2.0, -1.0]) * np.sin(2 * np.pi * 1.1 * t)[:, None, None]
    f[:, 9, 0] += 0.3 * np.sin(2 * np.pi * 1.5 * t)
    return f


def test_motion_map_keeps_a_cell_oscillation_and_removes_head_motion():
    maps, starts = motion_maps(flow(), FPS, MapSpec("motion"))
    assert maps.shape == (4, 3, 64, 64) and list(starts) == [0, 32, 64, 96]
    pk = peak_hz(maps)
    assert np.all(np.abs(pk[:, 0, 9] - 1.5) < 0.15)
    # the 1.1 Hz translation (60x the noise) is gone from the other cells' dx and dy
    others = np.delete(pk[:, :2], 9, axis=2)
    assert (np.abs(others - 1.1) < 0.15).mean() < 0.4
    # magnitude: |0.3 sin| has its power at 3 Hz (twice 1.5), the band's top
    assert np.all(pk[:, 2, 9] > 2.6)


def test_motion_map_trajectories_mark_missing_frames():
    traj = np.zeros((T, 68, 2))
    traj[150:] = np.nan  # no face from frame 150: flow samples 149.. are missing
    _, starts = motion_maps(flow(), FPS, MapSpec("motion"), trajectories=traj)
    assert list(starts) == [0, 32, 64, 96]  # window 96-159: 11 of 64 missing, kept
    traj[130:] = np.nan  # window 96-159: 31 of 64 missing, dropped
    _, starts = motion_maps(flow(), FPS, MapSpec("motion"), trajectories=traj)
    assert list(starts) == [0, 32, 64]
    with pytest.raises(DataError, match="trajectories"):
        motion_maps(flow(), FPS, MapSpec("motion"), trajectories=traj[:-1])


def save_signals(path, frames=T, *, flow_arrays=True):
    arrays = {"fps": np.float64(FPS), "grid_traces": grid_rgb(1.2, frames=frames),
              "trajectories": np.zeros((frames, 68, 2), np.float32)}
    if flow_arrays:
        arrays["grid_flow_traces"] = flow()[:frames - 1]
    np.savez(path, **arrays)
    return path


def test_clip_maps_reads_the_pipeline_npz_and_names_the_file(tmp_path):
    f = save_signals(tmp_path / "clip-1.npz")
    for kind in ("ppg", "motion"):
        maps, starts = clip_maps(f, MapSpec(kind))
        assert maps.shape == (4, 3, 64, 64) and list(starts) == [0, 32, 64, 96]
    maps2, _ = clip_maps(dict(np.load(f)), MapSpec("ppg"))
    assert np.array_equal(maps2, clip_maps(f, MapSpec("ppg"))[0])
    noflow = save_signals(tmp_path / "noflow.npz", flow_arrays=False)
    with pytest.raises(DataError, match=r"noflow\.npz.*flow=none"):
        clip_maps(noflow, MapSpec("motion"))
    short = save_signals(tmp_path / "short.npz", frames=40)
    with pytest.raises(DataError, match=r"short\.npz: clip too short for one map window"):
        clip_maps(short, MapSpec("ppg"))
    with pytest.raises(DataError, match="not found"):
        clip_maps(tmp_path / "missing.npz", MapSpec("ppg"))


def test_map_image_and_png(tmp_path):
    maps, _ = ppg_maps(grid_rgb(1.2), FPS, MapSpec("ppg"))
    img = map_image(maps[0])
    assert img.shape == (256, 256, 3) and img.dtype == np.uint8
    assert img[:, 128:].max() == 255  # spectra peak at 1 -> 255
    path = save_map_png(tmp_path / "m" / "map.png", maps[0], scale=2)
    back = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    assert np.array_equal(back, map_image(maps[0], scale=2))
    with pytest.raises(DataError):
        map_image(maps[0, :2])
