"""SynthFaces video: timeline, physiology, clip rendering, fakes and the clip benchmark."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.signal import find_peaks, periodogram

from fakescope.data.synthfaces import make_identities, render_face, sample_view
from fakescope.data.synthfaces.build import plan
from fakescope.data.synthfaces.clip import render_clip, sample_timeline
from fakescope.data.synthfaces.physiology import (
    PBV,
    draw_pulse,
    instantaneous_hr,
    pulse_modulation,
    pulse_wave,
    region_centres,
    waveform,
)
from fakescope.data.synthfaces.video_build import (
    VideoSynthConfig,
    _render_real,
    build_video_benchmark,
    make_fake,
)
from fakescope.data.video_stream import read_clip
from fakescope.errors import ConfigError
from fakescope.signals.rppg import estimate_heart_rate, heart_rate, pulse_signal
from fakescope.signals.traces import region_traces, roi_trace


def _peak_bpm(x, fps):
    f, p = periodogram(x - x.mean(), fs=fps, nfft=1 << 15)
    band = (f > 0.6) & (f < 3.2)
    return 60 * f[band][np.argmax(p[band])]


def test_waveform_has_a_systolic_peak_and_a_dicrotic_notch():
    u = np.linspace(0, 1, 1000, endpoint=False)
    w = waveform(u, 0.5)
    peaks, _ = find_peaks(w)
    troughs, _ = find_peaks(-w)
    assert len(peaks) == 2 and w[peaks[0]] > w[peaks[1]]  # systolic above diastolic
    assert u[peaks[0]] < u[troughs[0]] < u[peaks[1]]  # the notch between them


def test_pulse_rate_follows_the_drawn_heart_rate_with_breathing_variability():
    rng = np.random.default_rng(3)
    for _ in range(5):
        p = draw_pulse(rng)
        assert 45 <= p.hr_bpm <= 150
        t = np.arange(0, 30, 1 / 30)
        hr = instantaneous_hr(p, t)
        assert abs(hr.mean() - p.hr_bpm) < 3 and hr.std() > 0.2  # varies, around hr0
        wave = pulse_wave(p, t)
        assert abs(wave.mean()) < 0.15 and 0.8 < wave.std() < 1.2
        assert abs(_peak_bpm(wave, 30) - hr.mean()) < 1.5


def test_pulse_darkens_skin_along_the_blood_signature_most_on_the_forehead():
    for i, ident in enumerate(make_identities(8, seed=0)):  # one whose forehead is not hidden
        face = render_face(ident, sample_view(np.random.default_rng(i), "studio"), 128)
        c = region_centres(face.landmarks)["forehead"][0]
        if face.skin[int(c[1]), int(c[0])] > 0.99:
            break
    p = draw_pulse(np.random.default_rng(1), amplitude=0.01)
    m = pulse_modulation(p, face.landmarks, dict.fromkeys(p.weights, 1.0), face.skin)
    assert m.shape == (128, 128, 3)
    np.testing.assert_allclose(m[..., 0] / np.maximum(m[..., 1], 1e-12),
                               np.where(m[..., 1] > 0, PBV[0] / PBV[1], 0), atol=1e-5)
    assert (m[face.skin == 0] == 0).all()  # nothing off the skin
    cen = region_centres(face.landmarks)
    at = {k: m[int(c[1]), int(c[0]), 1] for k, (c, _) in cen.items()}
    assert at["forehead"] > at["left_cheek"] and at["forehead"] > at["chin"]


def test_timeline_moves_blinks_and_is_deterministic():
    anchor = sample_view(np.random.default_rng(0), "phone")
    a = sample_timeline(np.random.default_rng(5), anchor, 240, 30)
    b = sample_timeline(np.random.default_rng(5), anchor, 240, 30)
    np.testing.assert_array_equal(a.yaw, b.yaw)
    assert a.params["blinks"] >= 1 and a.eye_open.min() < 0.3 * a.eye_open.max()
    assert 1 < np.ptp(a.yaw) < 25 and np.abs(np.diff(a.yaw)).max() < 1.5  # smooth
    assert a.params["shake"] > 0  # phone: hand-held shake


def test_rendered_clip_carries_the_pulse_and_ground_truth():
    ident = make_identities(2, seed=0)[1]
    rng = np.random.default_rng(2)
    anchor = sample_view(rng, "studio")
    tl = sample_timeline(rng, anchor, 150, 30)
    pulse = draw_pulse(rng, amplitude=0.006)
    clip = render_clip(ident, anchor, tl, pulse, size=96, noise_rng=np.random.default_rng(4))
    assert clip.frames.shape == (150, 96, 96, 3) and clip.landmarks.shape == (150, 68, 2)
    assert clip.face_masks.shape == (150, 96, 96) and clip.region_pulse.shape == (150, 5)
    # the landmarks follow the head (they move) and the pulse truth is the forehead wave
    assert np.ptp(clip.landmarks[:, 30, 0]) > 0.5
    np.testing.assert_allclose(clip.pulse, pulse_wave(pulse, tl.times), atol=1e-5)
    face = roi_trace(region_traces(clip.frames, clip.landmarks))
    hr = estimate_heart_rate(face, 30, "pos").hr_bpm
    assert abs(hr - instantaneous_hr(pulse, tl.times).mean()) < 3


def _cfg(**kw):
    base = dict(identities=8, clips_per_identity=1, seconds=5, size=64, domains=("studio",))
    return VideoSynthConfig(**{**base, **kw}).check()


@pytest.mark.slow
def test_fake_pulse_follows_what_the_generator_does_to_pixels():
    """A swap carries the donor's pulse unless its per-frame colour matching copies the
    target's mean colour (and so the target's pulse) onto the pasted face; a blend of the
    target's own frames keeps the target's."""
    cfg = _cfg(size=96, seconds=8, pulse_amplitude=(0.006, 0.006))
    idents = make_identities(cfg.identities, seed=cfg.seed)
    target = _render_real(cfg, idents[0], 0, 0, "studio")
    donor = next(d for j in range(1, 8)
                 if abs((d := _render_real(cfg, idents[j], j, 0, "studio")).pulse.hr_bpm
                        - target.pulse.hr_bpm) > 15)
    t = target.timeline.times
    hr_t = instantaneous_hr(target.pulse, t).mean()
    hr_d = instantaneous_hr(donor.pulse, t).mean()

    def share(fake, hr):  # share of the cheeks' pulse power within 5 bpm of ``hr``
        rgb = roi_trace(region_traces(fake["frames"], fake["landmarks"]),
                        ("left_cheek", "right_cheek"))
        h = heart_rate(pulse_signal(rgb, cfg.fps, "pos"), cfg.fps)
        band = (h.freqs > 0.7) & (h.freqs < 3.0)
        return h.power[band & (np.abs(h.freqs * 60 - hr) < 5)].sum() / h.power[band].sum()

    def swap(colour):
        c = _cfg(size=96, seconds=8, pulse_amplitude=(0.006, 0.006),
                 generator_opts={"face_swap": {"colour": colour, "src_jpeg": 95}})
        return make_fake(c, "face_swap", "consistent", target, donor, idents[0], 0, 0)

    plain, matched = swap(0.0), swap(1.0)
    assert plain["pulse_source"] == "donor"
    assert share(plain, hr_d) > 3 * share(plain, hr_t)  # the donor's heart
    assert share(matched, hr_t) > 1.5 * share(matched, hr_d)  # matched colour: the target's
    sbi = make_fake(cfg, "sbi", "consistent", target, donor, idents[0], 0, 0)
    assert sbi["pulse_source"] == "own" and share(sbi, hr_t) > 3 * share(sbi, hr_d)
    full = make_fake(cfg, "full_synthesis", "consistent", target, donor, idents[0], 0, 0)
    assert full["pulse_source"] in ("none", "rendered")
    if full["pulse_source"] == "none":
        assert not full["pulse"].any()


def test_flicker_mode_changes_more_between_frames_than_consistent():
    cfg = _cfg()
    idents = make_identities(cfg.identities, seed=cfg.seed)
    target = _render_real(cfg, idents[0], 0, 0, "studio")
    donor = _render_real(cfg, idents[2], 2, 0, "studio")

    def energy(fr):
        return float(np.mean(np.diff(fr.astype(np.float32), axis=0) ** 2))

    for g in ("neural_texture", "gan_upsample"):
        con = make_fake(cfg, g, "consistent", target, donor, idents[0], 0, 0)
        fli = make_fake(cfg, g, "flicker", target, donor, idents[0], 0, 0)
        assert energy(fli["frames"]) > energy(con["frames"])


def test_video_benchmark_layout_truth_splits_resume_and_refusal(tmp_path):
    opts = dict(identities=9, clips_per_identity=1, seconds=1.0, size=48, domains=("studio",))
    df = build_video_benchmark(tmp_path / "v", **opts)
    assert len(df) == 18 and df["label"].sum() == 9
    assert set(df.loc[df.label == 1, "source"]) == set(VideoSynthConfig().generators)
    # same people and splits as the still benchmark of the same seed
    cfg = VideoSynthConfig(**opts).check()
    split = {f"id{i:05d}": c["split"] for c in plan(cfg.still()) for i in c["identities"]}
    assert (df["identity"].map(split) == df["split"]).all()
    row = df[df.source == "face_swap"].iloc[0]
    clip = read_clip(tmp_path / "v" / row["path"])
    assert clip.frames.shape == (30, 48, 48, 3) and abs(clip.info.fps - 30) < 0.01
    truth = np.load(tmp_path / "v" / row["truth_path"])
    assert truth["landmarks"].shape == (30, 68, 2) and truth["masks"].shape == (30, 48, 48)
    assert row["pulse_source"] in ("donor", "own")  # own only when its chunk had no donor
    real = df[df.source == "real"].iloc[0]
    rt = np.load(tmp_path / "v" / real["truth_path"])
    assert rt["face_masks"].shape == (30, 48, 48) and rt["pulse"].shape == (30,)
    assert json.loads(real["motion"])["n_frames"] == 30
    assert set(df.loc[df.label == 1, "temporal_mode"]) <= {"consistent", "flicker"}
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "v" / "videos").rglob("*.mp4")}
    again = build_video_benchmark(tmp_path / "v", **opts)  # reused, nothing re-rendered
    assert len(again) == len(df)
    assert before == {p: p.stat().st_mtime_ns for p in (tmp_path / "v" / "videos").rglob("*.mp4")}
    with pytest.raises(ConfigError, match="other options"):
        build_video_benchmark(tmp_path / "v", **{**opts, "seconds": 2.0})


def test_video_config_refuses_bad_values():
    for bad in (dict(seconds=0.5), dict(size=63), dict(temporal_modes=("smooth",)),
                dict(pulse_amplitude=(0.01, 0.001)), dict(crf={"studio": (0, 60)}),
                dict(generators=("nope",))):
        with pytest.raises(ConfigError):
            VideoSynthConfig(**{"domains": ("studio",), **bad}).check()


@pytest.mark.slow
def test_pos_and_chrom_recover_studio_heart_rate_within_3_bpm_on_average(tmp_path):
    """The issue's acceptance figure: clean studio real clips, through H.264 and back."""
    df = build_video_benchmark(tmp_path / "v", identities=8, clips_per_identity=1, seconds=8,
                               domains=("studio",), generators=("sbi",))
    reals = df[df.label == 0]
    err = {"pos": [], "chrom": []}
    for r in reals.itertuples():
        clip = read_clip(tmp_path / "v" / r.path)
        lm = np.load(tmp_path / "v" / r.truth_path)["landmarks"]
        face = roi_trace(region_traces(clip.frames, lm))
        for m in err:
            err[m].append(abs(estimate_heart_rate(face, clip.info.fps, m).hr_bpm - r.hr_bpm))
    # POS: the mean error; CHROM misses some dark-skinned clips by tens of bpm (its fixed
    # skin-tone chrominance), so only its median holds (docs/synthfaces-video.md)
    assert np.mean(err["pos"]) < 3 and np.median(err["chrom"]) < 3, err


def test_cli_synth_video_tiny_run_and_bad_options(tmp_path):
    from typer.testing import CliRunner

    from fakescope.cli.main import app, main
    from fakescope.data.manifest import read_manifest

    out = tmp_path / "sv"
    args = ["data", "synth", "--video", "--out", str(out), "--identities", "3",
            "--clips-per-identity", "1", "--seconds", "1", "--fps", "12", "--size", "32",
            "--workers", "1", "--generators", "sbi,reenact", "--domain", "phone",
            "--pulse-amplitude", "0.004", "--temporal", "flicker"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "6 clips (3 real, 3 fake)" in res.output
    df = read_manifest(out / "manifest.csv")
    assert set(df["domain"]) == {"phone"} and set(df["n_frames"]) == {12}
    assert set(df.loc[df.label == 1, "temporal_mode"]) == {"flicker"}
    assert (df["pulse_amplitude"] == 0.004).all()
    for bad in (["--pulse-amplitude", "a,b"], ["--temporal", "smooth"], ["--size", "33"]):
        with pytest.raises(SystemExit) as exc:
            main(["data", "synth", "--video", "--out", str(tmp_path / "x"), *bad])
        assert exc.value.code == 2
