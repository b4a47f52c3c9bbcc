"""rPPG: known pulses in synthetic RGB traces are recovered; band-pass, peak refinement, SNR."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from fakescope.errors import ConfigError, DataError
from fakescope.signals import (
    METHODS,
    MIN_SECONDS,
    bandpass,
    check_length,
    estimate_heart_rate,
    heart_rate,
    interpolate_gaps,
    pulse_signal,
)

FPS = 30.0
#: Blood-volume-pulse direction in normalised RGB (haemoglobin absorption, strongest in green).
PBV = np.array([0.33, 0.77, 0.53]) / np.linalg.norm([0.33, 0.77, 0.53])
SKIN = np.array([172.0, 121.0, 98.0])


def synth_trace(bpm: float | None, *, seconds=20.0, amp=0.005, noise=0.25, drift=0.04,
                flicker=0.0, flicker_hz=1.45, seed=0) -> np.ndarray:
    """A region's mean RGB ``(T, 3)``: skin colour x lighting (slow drift, optional in-band
    flicker, common to all channels) x (1 + amp * pulse * PBV) + white noise (0-255 units)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FPS)) / FPS
    light = (1 + drift * np.sin(2 * np.pi * 0.05 * t + 0.3) + 0.5 * drift * t / seconds
             + flicker * np.sin(2 * np.pi * flicker_hz * t + 0.7))
    pulse = np.zeros_like(t)
    if bpm is not None:
        f = bpm / 60.0
        phase = 2 * np.pi * f * t + 0.05 * np.sin(2 * np.pi * 0.25 * t)  # breathing-linked HRV
        pulse = np.sin(phase) + 0.3 * np.sin(2 * phase + 1.0)  # systolic peak + harmonic
        pulse /= np.abs(pulse).max()
    rgb = SKIN * light[:, None] * (1 + amp * pulse[:, None] * PBV)
    return rgb + rng.normal(0.0, noise, rgb.shape)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("bpm", [72.0, 120.0])
def test_each_method_recovers_the_heart_rate(method, bpm):
    for seed in range(2):
        hr = estimate_heart_rate(synth_trace(bpm, seed=seed), FPS, method)
        assert hr.method == method
        assert abs(hr.hr_bpm - bpm) < 2.0, (method, bpm, seed, hr.hr_bpm)


@pytest.mark.parametrize("method", METHODS)
def test_snr_is_higher_with_a_pulse_than_without(method):
    snr = {bpm: np.mean([estimate_heart_rate(synth_trace(bpm, seed=s), FPS, method).snr_db
                         for s in range(3)]) for bpm in (72.0, None)}
    assert snr[72.0] > snr[None] + 4.0, snr


def test_pos_and_chrom_cancel_a_common_mode_flicker_that_fools_green():
    """A 2 % intensity flicker at 87 bpm, four times the pulse, equal in all channels."""
    rgb = synth_trace(72.0, flicker=0.02, flicker_hz=1.45)
    err = {m: abs(estimate_heart_rate(rgb, FPS, m).hr_bpm - 72.0) for m in METHODS}
    assert err["pos"] < 2.0 and err["chrom"] < 2.0, err
    assert err["green"] > 10.0, err


def test_pulse_signal_shape_and_phase():
    rgb = synth_trace(72.0, noise=0.0, drift=0.0)
    clean = np.sin(2 * np.pi * 1.2 * np.arange(len(rgb)) / FPS)
    for method in METHODS:
        s = pulse_signal(rgb, FPS, method)
        assert s.shape == (len(rgb),) and np.isfinite(s).all()
        mid = slice(60, -60)
        assert np.corrcoef(s[mid], clean[mid])[0, 1] > 0.7, method  # same sign: pulse up


def test_bandpass_matches_scipy_and_removes_a_slow_drift():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 2))
    sos = sps.butter(3, [0.7, 3.0], btype="bandpass", fs=FPS, output="sos")
    np.testing.assert_allclose(bandpass(x, FPS), sps.sosfiltfilt(sos, x, axis=0), atol=1e-12)

    t = np.arange(600) / FPS
    tone = np.sin(2 * np.pi * 1.5 * t)
    y = bandpass(tone + 5.0 * np.sin(2 * np.pi * 0.1 * t) + 3.0, FPS)
    mid = slice(90, -90)
    assert np.abs(y[mid] - tone[mid]).max() < 0.05
    high = bandpass(np.sin(2 * np.pi * 8.0 * t), FPS)
    assert np.abs(high[mid]).max() < 0.02


def test_bandpass_lowers_a_band_above_nyquist_and_refuses_an_empty_one():
    x = np.random.default_rng(0).normal(size=200)
    assert np.isfinite(bandpass(x, 5.0, 0.7, 3.0)).all()  # hi -> 0.95 * 2.5 Hz
    with pytest.raises(DataError, match="empty"):
        bandpass(x, 1.0, 0.7, 3.0)


@pytest.mark.parametrize("bpm", [61.3, 73.3, 97.85, 143.1])
def test_heart_rate_peak_is_refined_between_bins(bpm):
    t = np.arange(int(12 * FPS)) / FPS
    noise = 0.05 * np.random.default_rng(3).normal(size=t.size)
    hr = heart_rate(np.sin(2 * np.pi * bpm / 60 * t + 0.4) + noise, FPS)
    assert abs(hr.hr_bpm - bpm) < 0.03, hr.hr_bpm  # bins are 0.22 bpm: refined to ~0.01
    assert hr.freqs.shape == hr.power.shape and hr.freqs[-1] == pytest.approx(FPS / 2)
    assert 60 * (hr.freqs[1] - hr.freqs[0]) <= 0.25
    assert hr.snr_db > 5


def test_heart_rate_stays_in_the_band_and_flat_is_nan():
    t = np.arange(int(10 * FPS)) / FPS
    x = np.sin(2 * np.pi * 0.3 * t) + 0.2 * np.sin(2 * np.pi * 1.0 * t)
    assert abs(heart_rate(x, FPS).hr_bpm - 60.0) < 1.0  # the 0.3 Hz peak is out of band
    flat = heart_rate(np.zeros(300), FPS)
    assert np.isnan(flat.hr_bpm) and np.isnan(flat.snr_db)


def test_check_length_refuses_short_clips_with_the_numbers():
    check_length(120, 30.0)  # exactly MIN_SECONDS
    with pytest.raises(DataError) as e:
        check_length(90, 30.0, path="clip.mp4")
    assert str(e.value) == ("clip.mp4: clip too short for one signal window: 90 frames at 30 fps"
                            " = 3.00 s < 4.0 s")
    assert e.value.path == "clip.mp4"
    with pytest.raises(DataError, match="too short"):
        pulse_signal(synth_trace(72.0, seconds=MIN_SECONDS - 0.5), FPS)
    with pytest.raises(DataError, match="frame rate"):
        check_length(100, 0.0)


def test_nan_frames_are_interpolated_up_to_a_quarter():
    rgb = synth_trace(72.0)
    holey = rgb.copy()
    holey[100:130] = np.nan  # 5 %, one second
    holey[:5] = np.nan
    hr = estimate_heart_rate(holey, FPS, "pos")
    assert abs(hr.hr_bpm - 72.0) < 2.0
    filled = interpolate_gaps(holey, len(holey), edges="hold")
    np.testing.assert_array_equal(pulse_signal(holey, FPS), pulse_signal(filled, FPS))
    np.testing.assert_allclose(filled[0], holey[5])
    np.testing.assert_allclose(filled[115], holey[99] + 16 / 31 * (holey[130] - holey[99]))
    sig = pulse_signal(rgb, FPS)
    sig[40:50] = np.nan
    assert heart_rate(sig, FPS).hr_bpm == pytest.approx(hr.hr_bpm, abs=2.0)
    holey[200:340] = np.nan  # now 29 %
    with pytest.raises(DataError, match="NaN"):
        pulse_signal(holey, FPS)


def test_bad_inputs_are_refused():
    with pytest.raises(ConfigError, match="unknown rPPG method"):
        pulse_signal(synth_trace(72.0), FPS, "ica")
    with pytest.raises(DataError, match=r"\(T, 3\)"):
        pulse_signal(np.ones((300, 4)), FPS)
    with pytest.raises(DataError, match="non-positive"):
        pulse_signal(np.zeros((300, 3)), FPS)
