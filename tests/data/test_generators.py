"""Generators: masks match the changed pixels, source labels, determinism, foreign crops."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakescope.data.generators import (
    DEFAULT_GENERATORS,
    FakeResult,
    create_generator,
    list_generators,
)
from fakescope.data.generators.ops import piecewise_affine, similarity
from fakescope.data.synthfaces import make_identities, render_face, sample_view, sensor
from fakescope.data.synthfaces.geometry import TEMPLATE_2D
from fakescope.errors import ConfigError, DataError

SIZE = 64


def _synth(i: int, size: int = SIZE):
    ident = make_identities(4, seed=3)[i]
    rng = np.random.default_rng([9, i])
    view = sample_view(rng, "studio" if i % 2 == 0 else "phone")
    face = render_face(ident, view, size)
    return sensor(face.image, view.camera, rng), face.landmarks


def _foreign(size: int = 72, seed: int = 0):
    """A face-like crop made without the renderer: smooth random fields, a drawn ellipse face,
    dark blobs for eyes/mouth, and jittered mean-template landmarks (non-square sizes work)."""
    rng = np.random.default_rng(seed)
    h, w = size, size + 8
    small = rng.uniform(0, 255, (6, 6, 3)).astype(np.float32)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    lm = TEMPLATE_2D * 0.6 * w + np.array([w / 2, h / 2]) + rng.normal(0, 0.6, (68, 2))
    c = lm[27:36].mean(0)
    cv2.ellipse(img, (int(c[0]), int(c[1])), (int(0.3 * w), int(0.4 * h)), 0, 0, 360,
                (190, 140, 120), -1, cv2.LINE_AA)
    for sl in (slice(36, 42), slice(42, 48), slice(48, 60)):
        cv2.fillPoly(img, [np.round(lm[sl]).astype(np.int32)], (40, 30, 30), cv2.LINE_AA)
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), lm


def test_registry_has_the_nine_in_order():
    assert list_generators()[:9] == list(DEFAULT_GENERATORS)
    assert len(set(DEFAULT_GENERATORS)) == 9
    with pytest.raises(ConfigError):
        create_generator("nope")
    with pytest.raises(ConfigError):
        create_generator("sbi", not_an_option=(0, 1))
    with pytest.raises(ConfigError):
        create_generator("sbi", blend=(0.9, 0.1))


def _check_fake(name, img, lm, res):
    assert isinstance(res, FakeResult)
    assert res.source == name
    assert res.image.shape == img.shape and res.image.dtype == np.uint8
    assert res.mask.shape == img.shape[:2]
    assert res.landmarks.shape == (68, 2)
    assert res.mask.min() >= 0 and res.mask.max() <= 1
    diff = np.abs(res.image.astype(int) - img.astype(int)).max(axis=2)
    outside = res.mask == 0
    inside = res.mask >= 0.5 * res.mask.max()
    assert inside.sum() > 20, "the manipulated region is not empty"
    # outside the mask: bit-identical; inside: changed on average and mostly
    assert diff[outside].max(initial=0) == 0
    assert diff[inside].mean() > 0.5
    assert (diff[inside] > 0).mean() > 0.5
    # every changed pixel is inside the mask
    assert (res.mask[diff > 0] > 0).all()


@pytest.mark.parametrize("name", DEFAULT_GENERATORS)
def test_mask_matches_changed_pixels_on_synthetic(name):
    img, lm = _synth(0)
    donor = _synth(1)
    res = create_generator(name)(img, lm, np.random.default_rng(1), donor=donor)
    _check_fake(name, img, lm, res)


@pytest.mark.parametrize("name", DEFAULT_GENERATORS)
def test_works_on_foreign_crop_without_donor(name):
    img, lm = _foreign(seed=DEFAULT_GENERATORS.index(name))
    res = create_generator(name)(img, lm, np.random.default_rng(2))
    _check_fake(name, img, lm, res)


@pytest.mark.parametrize("name", DEFAULT_GENERATORS)
def test_deterministic_and_randomised(name):
    img, lm = _synth(2)
    donor = _synth(3)
    gen = create_generator(name)
    a = gen(img, lm, np.random.default_rng(5), donor=donor)
    b = gen(img, lm, np.random.default_rng(5), donor=donor)
    c = gen(img, lm, np.random.default_rng(6), donor=donor)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert a.params != c.params
    for k, v in a.params.items():
        if k in gen.r:
            lo, hi = gen.r[k]
            assert lo <= v <= hi, (k, v)


def test_strength_scales_amplitude():
    img, lm = _synth(0)
    weak = create_generator("full_synthesis", strength=0.2, smooth=(10, 10))
    strong = create_generator("full_synthesis", strength=3.0, smooth=(10, 10))
    d_w = np.abs(weak(img, lm, np.random.default_rng(0)).image.astype(float) - img).mean()
    d_s = np.abs(strong(img, lm, np.random.default_rng(0)).image.astype(float) - img).mean()
    assert d_s > d_w


def test_gan_upsample_leaves_checkerboard_peak():
    img, lm = _synth(0, 64)
    res = create_generator("gan_upsample", amp=(0.3, 0.3), forehead=(0.1, 0.1))(
        img, lm, np.random.default_rng(0))
    diff = res.image.astype(float).mean(2) - img.astype(float).mean(2)
    spec = np.abs(np.fft.fft2(diff))
    nyq = spec[32, 32] + spec[0, 32] + spec[32, 0]
    assert nyq > 3 * np.median(spec)


def test_piecewise_affine_moves_points_and_keeps_far_pixels():
    img, lm = _synth(1, 64)
    new = lm.astype(float).copy()
    new[48:68, 1] += 2.0
    out, disp = piecewise_affine(img, lm.astype(float), new)
    assert disp.max() > 1.5
    assert np.array_equal(out[disp == 0], img[disp == 0])
    assert np.array_equal(out[:5], img[:5])


def test_similarity_recovers_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 50, (30, 2))
    ang, s, t = 0.3, 1.4, np.array([3.0, -2.0])
    r = s * np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    m = similarity(src, src @ r.T + t)
    assert np.allclose(m[:, :2], r, atol=1e-8) and np.allclose(m[:, 2], t, atol=1e-8)


def test_bad_input_raises_data_error():
    img, lm = _synth(0)
    gen = create_generator("sbi")
    with pytest.raises(DataError):
        gen(img.astype(np.float32), lm, np.random.default_rng(0))
    with pytest.raises(DataError):
        gen(img, lm[:5], np.random.default_rng(0))
