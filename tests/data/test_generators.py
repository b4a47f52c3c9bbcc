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
from fakescope.data.generators.ops import (
    chroma_loss,
    grey_band,
    piecewise_affine,
    recompress,
    sharpen,
    similarity,
)
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


def _blockiness(gray: np.ndarray, phase: int = 0) -> float:
    """Mean |horizontal step| across columns ``x = 8k + phase - 1 | 8k + phase`` over the mean
    step elsewhere (1 for no blocking)."""
    step = np.abs(np.diff(gray.astype(float), axis=1))
    at = np.zeros(step.shape[1], bool)
    at[(np.arange(step.shape[1]) + 1 - phase) % 8 == 0] = True
    return float(step[:, at].mean() / step[:, ~at].mean())


def test_recompress_leaves_blocking_on_its_own_grid():
    rng = np.random.default_rng(0)
    smooth = cv2.resize(rng.uniform(0, 255, (8, 8, 3)).astype(np.float32), (96, 96),
                        interpolation=cv2.INTER_CUBIC)
    img = np.clip(smooth + rng.normal(0, 4, smooth.shape), 0, 255).astype(np.uint8)
    out = recompress(img, 30)
    assert _blockiness(out.mean(2)) > 1.3 * _blockiness(img.mean(2))
    shifted = recompress(img[:, 3:], 30)  # the grid moves with the content
    assert _blockiness(shifted.mean(2), phase=0) > _blockiness(shifted.mean(2), phase=5)


def _laplacian_var(img: np.ndarray, inner: np.ndarray) -> float:
    return float(cv2.Laplacian(img.astype(np.float32).mean(2), cv2.CV_32F)[inner].var())


def test_face_swap_source_compression_grows_as_its_quality_falls():
    """Paired against the same swap from an uncompressed source (same rng, same donor): the
    compressed source changes the face, and the lower its JPEG quality the larger the change
    inside the face, on every face (sign test over four faces, by a clear factor)."""
    for i in range(4):
        img, lm = _synth(i, 128)
        donor = _synth((i + 2) % 4, 128)
        clean = create_generator("face_swap", src_jpeg=(100, 100))(img, lm,
                                                                  np.random.default_rng(0),
                                                                  donor=donor)
        inner = clean.mask > 0.99
        change = []
        for q in (20, 50, 90):
            res = create_generator("face_swap", src_jpeg=(q, q))(img, lm,
                                                                np.random.default_rng(0),
                                                                donor=donor)
            change.append(float(np.abs(res.image.astype(float) - clean.image)[inner].mean()))
        assert change[2] > 0 and change[0] > 1.15 * change[1] > 1.15 ** 2 * change[2], (i, change)


def test_sbi_sharpness_jitter_moves_fine_detail_both_ways():
    """sbi's blur jitter sharpens (negative) or blurs (positive) the blended copy: fine detail
    inside the face goes up or down against the real, on every face, by a clear factor."""
    for i in range(4):
        img, lm = _synth(i, 128)
        lap = {}
        for blur in (-1.5, 1.5):
            gen = create_generator("sbi", blend=(1, 1), colour=(0, 0), contrast=(0, 0),
                                   blur=(blur, blur), res=(1, 1))
            res = gen(img, lm, np.random.default_rng(0))
            inner = res.mask > 0.99
            lap[blur] = _laplacian_var(res.image, inner) / _laplacian_var(img, inner)
        assert lap[-1.5] > 1.25 and lap[1.5] < 0.5, (i, lap)


def test_eigenswap_keeps_the_noise_level_and_loses_the_mid_band():
    """Against its real, over four faces: eigenswap keeps the finest band's noise level (on
    average; sbi, by contrast, loses it on every face) and loses mid-band (1-3 px) detail
    under that grain; on every face a coarse code loses more mid detail than a fine one."""
    from fakescope.data.generators.spectral import robust_fine_std

    def ratio(stat, fake, real, inner):
        return stat(fake, inner) / stat(real, inner)

    def mid_std(img, inner):
        return float(np.std(grey_band(img, 1.0, 3.0)[inner]))

    noise, mid = [], []
    for i in range(4):
        img, lm = _synth(i, 128)
        donor = _synth((i + 2) % 4, 128)
        coarse, fine = (create_generator("eigenswap", grain=(1, 1), identity=(1, 1), res=(r, r),
                                         keep=(k, k))(img, lm, np.random.default_rng(0),
                                                      donor=donor)
                        for r, k in ((32, 0.2), (56, 0.5)))
        inner = coarse.mask > 0.99
        noise.append(ratio(robust_fine_std, coarse.image, img, inner))
        mid.append(ratio(mid_std, coarse.image, img, inner))
        # 6 x 6 coefficients of a 32 px code carry less 2-6 px detail than 28 x 28 of 56 px
        assert mid[-1] < 0.75 * ratio(mid_std, fine.image, img, fine.mask > 0.99), i
        sbi = create_generator("sbi", blend=(1, 1))(img, lm, np.random.default_rng(0))
        assert ratio(robust_fine_std, sbi.image, img, sbi.mask > 0.99) < 0.8 * noise[-1], i
    assert np.mean(noise) > 0.75, noise  # re-noised to about the target's level
    assert np.mean(mid) < 0.6 * np.mean(noise), (mid, noise)  # mid detail lost under the grain


def test_smear_kernel_smooths_along_its_direction_only():
    from fakescope.data.generators.local import SMEAR_ANGLE, smear_kernel

    k = smear_kernel(3.0)
    assert k.shape == (19, 19) and abs(k.sum() - 1) < 1e-5
    u = np.array([np.cos(SMEAR_ANGLE), np.sin(SMEAR_ANGLE)])
    yy, xx = np.mgrid[-9:10, -9:10]
    along = (k * (xx * u[0] + yy * u[1]) ** 2).sum()  # second moments of the kernel
    across = (k * (-xx * u[1] + yy * u[0]) ** 2).sum()
    assert along == pytest.approx(9.0, rel=0.05) and across < 0.5


def _direction_contrast(name: str, i: int) -> float:
    """Inside the fake's region: log change of the fine band's gradient energy along
    :data:`SMEAR_ANGLE` minus that across it (0 for an isotropic trace)."""
    from fakescope.data.generators.bands import ANGLES, direction_log_energy, orientation_contrasts
    from fakescope.data.generators.local import SMEAR_ANGLE

    img, lm = _synth(i, 128)
    res = create_generator(name)(img, lm, np.random.default_rng(i), donor=_synth((i + 1) % 4, 128))
    inner = res.mask > 0.5
    change = direction_log_energy(res.image, inner) - direction_log_energy(img, inner)
    return float(orientation_contrasts(change)[list(ANGLES).index(round(np.rad2deg(SMEAR_ANGLE)))])


def test_diffusion_inpaint_loses_detail_along_one_direction():
    """Detail varying along the smear direction is lost, detail across it much less; no other
    generator loses detail preferentially along that direction. Relative, per face: the
    diffusion fake's contrast is negative on all four faces (sign test) and below each
    control's on the same face by a clear margin; each control's mean contrast is at most a
    quarter of diffusion's in that direction."""
    diffusion = np.array([_direction_contrast("diffusion_inpaint", i) for i in range(4)])
    assert (diffusion < 0).all(), diffusion
    for name in ("sbi", "eigenswap", "gan_upsample", "neural_texture"):
        control = np.array([_direction_contrast(name, i) for i in range(4)])
        assert (diffusion < control - 0.25).all(), (name, diffusion, control)
        assert control.mean() > 0.25 * diffusion.mean(), (name, diffusion, control)


def test_sharpen_is_an_unsharp_mask():
    x = np.zeros((32, 32, 3), np.float32)
    x[:, 16:] = 100
    out = sharpen(x, 1.0, 1.0)
    assert out[:, 16].min() > 100 and out[:, 15].max() < 0  # halos on both sides of the edge
    assert np.allclose(out[:, :8], 0) and np.allclose(out[:, 24:], 100)


def test_chroma_loss_keeps_luma_and_smooths_chroma():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    out = chroma_loss(img, 0.5)
    y_in = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb).astype(float)
    y_out = cv2.cvtColor(out, cv2.COLOR_RGB2YCrCb).astype(float)
    assert np.abs(y_out[..., 0] - y_in[..., 0]).mean() < 0.2 * np.abs(y_out[..., 1:] - y_in[..., 1:]).mean()
    assert np.diff(y_out[..., 1], axis=1).std() < 0.6 * np.diff(y_in[..., 1], axis=1).std()
    assert chroma_loss(img, 1.0) is img


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
