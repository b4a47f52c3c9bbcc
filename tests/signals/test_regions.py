"""Facial regions and the mid-face grid on rendered SynthFaces (real 68-point layouts)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakescope.data.synthfaces import make_identities, render_face, sample_view
from fakescope.errors import DataError
from fakescope.signals import (
    REGIONS,
    face_grid,
    grid_masks,
    midface_quad,
    region_masks,
    region_polygons,
)

S = 128


@pytest.fixture(scope="module")
def faces():
    rng = np.random.default_rng(0)
    ids = make_identities(6, seed=0)
    domains = ["studio", "phone"] * 3
    return [render_face(i, sample_view(rng, d), S) for i, d in zip(ids, domains, strict=True)]


def test_polygons_are_float32_per_region(faces):
    polys = region_polygons(faces[0].landmarks)
    assert tuple(polys) == REGIONS
    for poly in polys.values():
        assert poly.dtype == np.float32 and poly.ndim == 2 and poly.shape[1] == 2
        assert len(poly) >= 4


def test_masks_are_non_empty_inside_the_face_and_disjoint(faces):
    for f in faces:
        m = region_masks(f.landmarks, (S, S))
        assert m.shape == (len(REGIONS), S, S) and m.dtype == bool
        face = f.face_mask > 0
        for r, name in enumerate(REGIONS):
            assert m[r].sum() > 150, name  # tens of px on a side at 128 px
            inside = (m[r] & face).sum() / m[r].sum()
            # the forehead band may reach a hair fringe or the hairline; the rest is on the face
            assert inside > (0.8 if name == "forehead" else 0.98), (name, inside)
        for i in range(len(REGIONS)):
            for j in range(i + 1, len(REGIONS)):
                assert not (m[i] & m[j]).any(), (REGIONS[i], REGIONS[j])


def test_regions_sit_where_their_names_say(faces):
    lm = faces[0].landmarks
    m = region_masks(lm, (S, S))
    centres = {name: np.array(np.nonzero(m[r]))[::-1].mean(axis=1) for r, name in
               enumerate(REGIONS)}  # (x, y)
    assert centres["forehead"][1] < lm[17:27, 1].min()  # above the brows
    assert centres["left_cheek"][0] < lm[30, 0] < centres["right_cheek"][0]
    assert centres["chin"][1] > lm[57, 1]  # below the lower lip
    assert lm[27, 1] < centres["nose"][1] < lm[33, 1]


def test_masks_move_with_translated_landmarks(faces):
    lm = faces[1].landmarks
    a = region_masks(lm, (S, S))
    b = region_masks(lm + np.array([7.0, -3.0]), (S, S))
    np.testing.assert_array_equal(b, np.roll(a, (-3, 7), axis=(1, 2)))
    g = grid_masks(lm + np.array([-5.0, 4.0]), (S, S))
    np.testing.assert_array_equal(g, np.roll(grid_masks(lm, (S, S)), (4, -5), axis=(1, 2)))


def test_masks_are_clipped_to_the_image(faces):
    m = region_masks(faces[0].landmarks + np.array([-60.0, 0.0]), (S, S))
    assert m.shape == (len(REGIONS), S, S)
    assert m[REGIONS.index("right_cheek")].any() and not m[REGIONS.index("left_cheek")].any()
    assert not region_masks(faces[0].landmarks + 500.0, (S, S)).any()


def test_grid_cells_cover_the_mid_face_quad(faces):
    for f in faces:
        lm = f.landmarks
        cells = face_grid(lm)
        assert cells.shape == (32, 4, 2) and cells.dtype == np.float32
        quad = midface_quad(lm)
        np.testing.assert_allclose(cells[0, 0], quad[0], atol=1e-4)
        np.testing.assert_allclose(cells[7, 1], quad[1], atol=1e-4)
        np.testing.assert_allclose(cells[31, 2], quad[2], atol=1e-4)
        np.testing.assert_allclose(cells[24, 3], quad[3], atol=1e-4)
        # cell areas add up to the quad's area
        area = lambda p: cv2.contourArea(np.asarray(p, np.float32))  # noqa: E731
        assert sum(area(c) for c in cells) == pytest.approx(area(quad), rel=1e-4)

        g = grid_masks(lm, (S, S))
        assert g.shape == (32, S, S)
        assert g.sum(axis=0).max() == 1  # disjoint
        assert (g.sum(axis=(1, 2)) > 0).all()
        full = np.zeros((S, S), np.uint8)
        cv2.fillPoly(full, [np.round(quad * 16).astype(np.int32)], 1, shift=4)
        union = g.any(axis=0)
        kernel = np.ones((3, 3), np.uint8)  # the two rasterisations differ on the outline only
        assert not (cv2.erode(full, kernel).astype(bool) & ~union).any()
        assert not (union & ~cv2.dilate(full, kernel).astype(bool)).any()
        assert (union & (f.face_mask > 0)).sum() / union.sum() > 0.98
        # row-major: x grows along a row, y down the rows; the top is below the eyes
        centres = cells.mean(axis=1).reshape(4, 8, 2)
        assert (np.diff(centres[..., 0], axis=1) > 0).all()
        assert (np.diff(centres[..., 1], axis=0) > 0).all()
        assert quad[:2, 1].min() > lm[[40, 41, 46, 47], 1].max()


def test_grid_size_is_configurable(faces):
    assert face_grid(faces[0].landmarks, 2, 3).shape == (6, 4, 2)
    assert grid_masks(faces[0].landmarks, (S, S), 2, 3).shape == (6, S, S)


def test_wrong_landmark_shape_is_a_data_error():
    with pytest.raises(DataError, match=r"\(68, 2\)"):
        region_polygons(np.zeros((5, 2)))
