"""Band profile of a generator's trace: how much detail it removes at each scale.

For a face ``x`` (grey, inside its landmark hull eroded by 8% of the face width) the profile is
the log standard deviation of three bands, ``[x - G_0.7 x, G_0.7 x - G_1.5 x, G_1.5 x - G_3 x]``
(fine, mid, coarse; ``G_s`` a Gaussian blur of ``s`` px), and a generator's profile is the mean
over faces of ``profile(jpeg(fake)) - profile(jpeg(real))``: 0 = that band untouched, -0.7 =
half its amplitude gone. Faces are SynthFaces reals at 128 px, half studio, half phone, each
fake made from the face and (as donor) the next one; both are JPEG-compressed at the face's own
camera quality, as the benchmark does. Generators with the same profile are caught by each
other's detectors (see docs/synthfaces-changelog.md, SYNTH_VERSION 5 -> 6).

The bands are isotropic, so a trace that removes detail along one direction only shows there
as a plain loss. The ``orient`` column sees it: with ``e(theta)`` the log mean square of the
grey image's derivative along ``theta``, ``c(theta) = de(theta) - de(theta + 90 deg)`` (fake
minus real, averaged over faces) for ``theta`` in 0, 15, ..., 165 deg; ``orient`` is the
lowest ``c`` and ``angle`` its ``theta``: how much more detail was lost along ``angle`` than
across it (0 = no preferred direction; ``c(theta + 90) = -c(theta)``, so ``orient <= 0``).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pandas as pd

from fakescope.data.generators import create_generator, list_generators, ops

#: ``(s_fine, s_coarse)`` of each band in px.
BANDS = {"fine": (0.0, 0.7), "mid": (0.7, 1.5), "coarse": (1.5, 3.0)}
#: Directions of the orientation contrast, degrees from the image x axis (y down).
ANGLES = np.arange(0, 180, 15)


def band_log_std(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(3,)`` log std of the fine / mid / coarse grey bands of ``img`` (H, W, 3) inside the
    boolean ``mask`` (H, W)."""
    return np.array([np.log(np.std(ops.grey_band(img, a, b)[mask]) + 1e-3)
                     for a, b in BANDS.values()])


def direction_log_energy(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(len(ANGLES),)`` log mean square of the grey image's derivative along each of
    :data:`ANGLES` (Sobel, ``cos t * d/dx + sin t * d/dy``) inside the boolean ``mask``."""
    g = ops.grey_band(img, 0.0, 1.5)
    dx, dy = cv2.Sobel(g, cv2.CV_32F, 1, 0)[mask], cv2.Sobel(g, cv2.CV_32F, 0, 1)[mask]
    t = np.deg2rad(ANGLES)
    d = np.cos(t)[:, None] * dx + np.sin(t)[:, None] * dy
    return np.log(np.mean(d ** 2, axis=1) + 1e-6)


def orientation_contrasts(change: np.ndarray) -> np.ndarray:
    """``(len(ANGLES),)`` ``c(t) = change(t) - change(t + 90)`` for a ``(len(ANGLES),)`` change
    of :func:`direction_log_energy` (0 everywhere for an isotropic change)."""
    return change - np.roll(change, -len(ANGLES) // 2)


def orientation_contrast(change: np.ndarray) -> tuple[float, int]:
    """``(c, angle)`` of the lowest :func:`orientation_contrasts`: the direction detail was
    lost along most, relative to across it."""
    c = orientation_contrasts(change)
    k = int(np.argmin(c))
    return float(c[k]), int(ANGLES[k])


def _faces(n: int, seed: int, size: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
    from fakescope.data.synthfaces import make_identities, render_face, sample_view, sensor

    out = []
    for i, ident in enumerate(make_identities(n, seed=seed)):
        rng = np.random.default_rng([seed, i])
        view = sample_view(rng, "studio" if i % 2 else "phone")
        face = render_face(ident, view, size)
        out.append((sensor(face.image, view.camera, rng), face.landmarks,
                    int(view.camera["jpeg"])))
    return out


def band_profile(generators: Sequence[str] | None = None, *, faces: int = 40, seed: int = 5,
                 size: int = 128) -> pd.DataFrame:
    """One row per generator: ``generator, fine, mid, coarse`` (mean log-std change, see the
    module doc), ``orient, angle`` (orientation contrast) and ``n`` faces. ``generators``
    default: every registered one."""
    from fakescope.data.synthfaces.camera import jpeg

    gens = {name: create_generator(name) for name in generators or list_generators()}  # names checked before rendering
    data = _faces(faces, seed, size)
    rows = []
    for name, gen in gens.items():
        diffs, turns = [], []
        for i, (raw, lm, q) in enumerate(data):
            res = gen(raw, lm, np.random.default_rng([seed, i]), donor=data[(i + 1) % len(data)][:2])
            inner = ops.morph_mask(ops.hull_mask(raw.shape, ops.face_points(lm)),
                                   -0.08 * ops.face_size(lm)) > 0.5
            fake, real = jpeg(res.image, q), jpeg(raw, q)
            diffs.append(band_log_std(fake, inner) - band_log_std(real, inner))
            turns.append(direction_log_energy(fake, inner) - direction_log_energy(real, inner))
        mean = np.mean(diffs, axis=0)
        orient, angle = orientation_contrast(np.mean(turns, axis=0))
        rows.append({"generator": name, **dict(zip(BANDS, mean.round(4).tolist(), strict=True)),
                     "orient": round(orient, 4), "angle": angle, "n": len(data)})
    return pd.DataFrame(rows)
