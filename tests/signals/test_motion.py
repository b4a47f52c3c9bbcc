"""Optical flow per region recovers a known translation; head normalisation of landmarks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakescope.data.synthfaces import make_identities, render_face, sample_view
from fakescope.errors import ConfigError, DataError
from fakescope.signals import (
    REGIONS,
    flow_traces,
    grid_flow_traces,
    jitter,
    landmark_trajectories,
)

S = 128


@pytest.fixture(scope="module")
def face():
    ident = make_identities(1, seed=5)[0]
    return render_face(ident, sample_view(np.random.default_rng(5), "studio"), S)


def moving_clip(face, n=5, step=(2.0, 0.0)):
    """A smooth random texture (uint8 RGB) shifted by ``step`` px per frame, and the face's
    landmarks moving with it."""
    rng = np.random.default_rng(1)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (S + 40, S + 40, 3)).astype(np.float32), (0, 0), 2)
    big = cv2.normalize(big, None, 0, 255, cv2.NORM_MINMAX)
    frames, lms = [], []
    for t in range(n):
        dx, dy = t * step[0], t * step[1]
        m = np.float32([[1, 0, dx - 20], [0, 1, dy - 20]])
        frames.append(cv2.warpAffine(big, m, (S, S), flags=cv2.INTER_LINEAR).astype(np.uint8))
        lms.append(face.landmarks + np.array([dx, dy]))
    return frames, np.stack(lms)


@pytest.mark.parametrize("method", ["farneback", "dis"])
def test_flow_recovers_a_known_translation(face, method):
    frames, lm = moving_clip(face)
    fl = flow_traces(frames, lm, method=method)
    assert fl.shape == (4, len(REGIONS), 2)
    np.testing.assert_allclose(fl[..., 0], 2.0, atol=0.1)
    np.testing.assert_allclose(fl[..., 1], 0.0, atol=0.1)
    grid = grid_flow_traces(frames, lm, 2, 4, method=method)
    assert grid.shape == (4, 8, 2)
    np.testing.assert_allclose(grid[..., 0], 2.0, atol=0.1)
    np.testing.assert_allclose(grid[..., 1], 0.0, atol=0.1)


def test_flow_sees_vertical_motion_and_nan_faces(face):
    frames, lm = moving_clip(face, n=4, step=(0.0, -1.5))
    lm[1] = np.nan
    fl = flow_traces(frames, lm, method="dis")
    assert np.isnan(fl[1]).all()
    ok = fl[[0, 2]]
    np.testing.assert_allclose(ok[..., 1], -1.5, atol=0.1)
    np.testing.assert_allclose(ok[..., 0], 0.0, atol=0.1)


def test_flow_refuses_unknown_methods_and_mismatched_counts(face):
    frames, lm = moving_clip(face, n=3)
    with pytest.raises(ConfigError, match="unknown optical-flow method"):
        flow_traces(frames, lm, method="lucas")
    with pytest.raises(DataError, match="2 frames but 3 landmark rows"):
        flow_traces(frames[:2], lm)


def similarity(points, scale, angle_deg, shift):
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return scale * points @ rot.T + np.asarray(shift)


def test_trajectories_remove_a_similarity_and_keep_jitter(face):
    base = face.landmarks.astype(np.float64)
    rng = np.random.default_rng(2)
    moved = np.stack([similarity(base, rng.uniform(0.8, 1.2), rng.uniform(-15, 15),
                                 rng.uniform(-20, 20, 2)) for _ in range(30)])
    norm = landmark_trajectories(moved)
    assert norm.shape == (30, 68, 2)
    np.testing.assert_allclose(norm, np.broadcast_to(moved[0], norm.shape), atol=1e-9)
    assert jitter(moved) < 1e-9
    assert np.abs(np.diff(moved, axis=0)).mean() > 5  # the head did move

    noisy = moved + rng.normal(0.0, 1.5, moved.shape)  # per-point landmark jitter
    j = jitter(noisy)
    assert 1.0 < j < 4.0, j


def test_trajectories_keep_expression_and_nan_frames(face):
    base = face.landmarks.astype(np.float64)
    clip = np.stack([base, base, base])
    clip[1, 48:68, 1] += 3.0  # mouth opens: not a stable point
    clip[1] = similarity(clip[1], 1.1, 5.0, (4.0, -2.0))
    clip[2] = np.nan
    norm = landmark_trajectories(clip)
    np.testing.assert_allclose(norm[1, 48:68, 1] - base[48:68, 1], 3.0, atol=1e-9)
    np.testing.assert_allclose(norm[1, :48], base[:48], atol=1e-9)
    assert np.isnan(norm[2]).all()
    assert jitter(clip) == pytest.approx(np.linalg.norm(norm[1] - norm[0], axis=1).mean())
    assert np.isnan(jitter(clip[2:]))


def test_frame_difference_energy_is_zero_for_a_still_face_and_grows_with_flicker():
    from fakescope.signals.motion import frame_difference_energy

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    lm = np.tile(np.array([[20.0, 20], [44, 20], [44, 44], [20, 44]] * 17)[None], (5, 1, 1))
    still = frame_difference_energy([base] * 5, lm)
    assert still.shape == (4,) and (still == 0).all()
    frames = [np.clip(base.astype(int) + rng.integers(-8, 9, base.shape), 0, 255).astype(np.uint8)
              for _ in range(5)]
    assert (frame_difference_energy(frames, lm) > 10).all()
    lm[2] = np.nan
    e = frame_difference_energy(frames, lm)
    assert np.isnan(e[2]) and np.isfinite(e[[0, 1, 3]]).all()
