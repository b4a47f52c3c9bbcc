"""Colour traces equal direct masked means; NaN faces and empty regions; gap filling."""

from __future__ import annotations

import numpy as np
import pytest

from fakescope.data.synthfaces import make_identities, render_face, sample_view
from fakescope.errors import DataError
from fakescope.signals import (
    REGIONS,
    grid_masks,
    grid_traces,
    interpolate_gaps,
    region_masks,
    region_traces,
)

S = 128


@pytest.fixture(scope="module")
def face():
    ident = make_identities(1, seed=3)[0]
    return render_face(ident, sample_view(np.random.default_rng(3), "studio"), S)


@pytest.fixture(scope="module")
def clip(face):
    """Five crafted frames (random colours) with landmarks drifting a pixel a frame, the third
    frame without a face."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (5, S, S, 3), dtype=np.uint8)
    lm = np.stack([face.landmarks + np.array([t, 0.5 * t]) for t in range(5)])
    lm[2] = np.nan
    return frames, lm


def test_region_traces_equal_direct_means(clip):
    frames, lm = clip
    tr = region_traces(frames, lm)
    assert tr.shape == (5, len(REGIONS), 3) and tr.dtype == np.float64
    assert np.isnan(tr[2]).all() and np.isfinite(np.delete(tr, 2, axis=0)).all()
    for t in (0, 1, 3, 4):
        masks = region_masks(lm[t], (S, S))
        direct = np.stack([frames[t][m].mean(axis=0) for m in masks])
        np.testing.assert_allclose(tr[t], direct, rtol=1e-12)


def test_skin_masks_restrict_the_pixels(clip):
    frames, lm = clip
    skin = np.zeros((5, S, S), np.uint8)
    skin[:, :, : S // 2] = 1  # left half of the image only
    tr = region_traces(iter(list(frames)), lm, skin=skin)  # frames from a generator
    t = 0
    masks = region_masks(lm[t], (S, S)) & skin[t].astype(bool)
    for r, name in enumerate(REGIONS):
        if masks[r].any():
            np.testing.assert_allclose(tr[t, r], frames[t][masks[r]].mean(axis=0))
        else:
            assert np.isnan(tr[t, r]).all(), name
    assert np.isnan(tr[t, REGIONS.index("right_cheek")]).all()


def test_grid_traces_equal_direct_means(clip):
    frames, lm = clip
    tr = grid_traces(frames, lm, 4, 8)
    assert tr.shape == (5, 32, 3)
    assert np.isnan(tr[2]).all()
    for t in (0, 4):
        direct = np.stack([frames[t][m].mean(axis=0) for m in grid_masks(lm[t], (S, S))])
        np.testing.assert_allclose(tr[t], direct, rtol=1e-12)


def test_a_face_off_the_image_gives_nan(face):
    frames = np.full((2, S, S, 3), 100, np.uint8)
    lm = np.stack([face.landmarks, face.landmarks + 1000.0])
    tr = region_traces(frames, lm)
    np.testing.assert_allclose(tr[0], 100.0)
    assert np.isnan(tr[1]).all()
    assert np.isnan(grid_traces(frames, lm)[1]).all()


def test_frame_and_landmark_counts_must_match(clip):
    frames, lm = clip
    with pytest.raises(DataError, match="4 frames but 5 landmark rows"):
        region_traces(frames[:4], lm)
    with pytest.raises(DataError, match="more frames"):
        grid_traces(frames, lm[:3])
    with pytest.raises(DataError, match=r"\(T, 68, 2\)"):
        region_traces(frames, lm[0])


def test_interpolate_gaps_fills_short_runs_linearly():
    x = np.arange(12, dtype=float)
    x[[2, 5, 6, 8, 9, 10]] = np.nan  # runs of 1, 2 and 3
    y = interpolate_gaps(x, 2)
    np.testing.assert_allclose(y[:8], np.arange(8.0))
    assert np.isnan(y[8:11]).all() and y[11] == 11
    assert np.isnan(x[2])  # input untouched
    np.testing.assert_allclose(interpolate_gaps(x, 3), np.arange(12.0))


def test_interpolate_gaps_edges_and_trailing_axes():
    x = np.array([np.nan, 1.0, 2.0, np.nan, 4.0, np.nan])
    assert np.isnan(interpolate_gaps(x, 5)[[0, 5]]).all()
    np.testing.assert_allclose(interpolate_gaps(x, 5, edges="hold"), [1, 1, 2, 3, 4, 4])
    a = np.stack([np.arange(6.0), 10 * np.arange(6.0)], axis=1)[:, None, :]  # (6, 1, 2)
    a[3, 0, 0] = np.nan
    a[1:3, 0, 1] = np.nan
    np.testing.assert_allclose(interpolate_gaps(a, 2)[:, 0, 0], np.arange(6.0))
    np.testing.assert_allclose(interpolate_gaps(a, 2)[:, 0, 1], 10 * np.arange(6.0))
    assert np.isnan(interpolate_gaps(a, 1)[1:3, 0, 1]).all()
