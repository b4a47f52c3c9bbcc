"""3D face geometry: a 68-point iBUG landmark model, identity shape, expression and pose.

Coordinates of the model: ``x`` right, ``y`` down, ``z`` towards the camera, in units where the
jaw is about 0.9 wide. :func:`project` maps model points to pixels of an ``S x S`` image with a
weak-perspective camera: ``p_img = S * (centre + scale * R[:2] @ (X - pivot))``.
"""

from __future__ import annotations

import numpy as np

# Mean iBUG-68 layout in [0, 1] (OpenFace/dlib alignment template), symmetrised below.
_TEMPLATE = np.array([
    (0.0792, 0.3392), (0.0829, 0.4570), (0.0968, 0.5756), (0.1221, 0.6919), (0.1687, 0.8003),
    (0.2398, 0.8957), (0.3257, 0.9771), (0.4223, 1.0433), (0.5318, 1.0608), (0.6413, 1.0398),
    (0.7381, 0.9723), (0.8244, 0.8896), (0.8948, 0.7925), (0.9394, 0.6815), (0.9611, 0.5622),
    (0.9706, 0.4418), (0.9712, 0.3221), (0.1638, 0.2492), (0.2178, 0.2043), (0.2913, 0.1924),
    (0.3675, 0.2036), (0.4393, 0.2331), (0.5864, 0.2281), (0.6602, 0.1959), (0.7375, 0.1824),
    (0.8132, 0.1928), (0.8708, 0.2353), (0.5153, 0.3186), (0.5162, 0.3962), (0.5171, 0.4738),
    (0.5182, 0.5532), (0.4337, 0.6041), (0.4755, 0.6208), (0.5207, 0.6343), (0.5659, 0.6188),
    (0.6071, 0.6016), (0.2524, 0.3311), (0.2987, 0.3026), (0.3557, 0.3030), (0.4037, 0.3387),
    (0.3525, 0.3500), (0.2968, 0.3505), (0.6313, 0.3341), (0.6791, 0.2965), (0.7360, 0.2947),
    (0.7829, 0.3213), (0.7403, 0.3418), (0.6850, 0.3437), (0.3532, 0.7462), (0.4146, 0.7191),
    (0.4777, 0.7068), (0.5227, 0.7171), (0.5698, 0.7054), (0.6352, 0.7157), (0.6995, 0.7394),
    (0.6394, 0.8052), (0.5764, 0.8354), (0.5254, 0.8417), (0.4764, 0.8375), (0.4138, 0.8100),
    (0.3801, 0.7500), (0.4780, 0.7451), (0.5234, 0.7489), (0.5711, 0.7433), (0.6724, 0.7442),
    (0.5725, 0.7766), (0.5240, 0.7834), (0.4776, 0.7785),
], dtype=np.float64)

#: Index of each iBUG-68 point's mirror partner (left <-> right).
MIRROR = np.array(
    list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30] + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65]
)

JAW = slice(0, 17)
BROW_L, BROW_R = slice(17, 22), slice(22, 27)
NOSE_BRIDGE, NOSE_BASE = slice(27, 31), slice(31, 36)
EYE_L, EYE_R = slice(36, 42), slice(42, 48)
LIPS_OUT, LIPS_IN = slice(48, 60), slice(60, 68)


def _symmetric_template() -> np.ndarray:
    t = _TEMPLATE.copy()
    t[:, 0] -= 0.5225
    mirrored = t[MIRROR] * np.array([-1.0, 1.0])
    t = 0.5 * (t + mirrored)
    t[:, 1] -= 0.55
    return t


def _depths() -> np.ndarray:
    z = np.zeros(68)
    j = np.abs(np.arange(17) - 8) / 8.0
    z[JAW] = 0.03 - 0.46 * j ** 1.6
    z[17:27] = [-0.06, 0.0, 0.04, 0.06, 0.06, 0.06, 0.06, 0.04, 0.0, -0.06]
    z[27:31] = [0.06, 0.11, 0.17, 0.24]
    z[31:36] = [0.07, 0.12, 0.15, 0.12, 0.07]
    z[36:48] = [-0.06, -0.01, 0.0, 0.0, 0.0, -0.02, 0.0, 0.0, -0.01, -0.06, -0.02, 0.0]
    z[48:60] = [0.0, 0.06, 0.09, 0.1, 0.09, 0.06, 0.0, 0.06, 0.08, 0.09, 0.08, 0.06]
    z[60:68] = [0.02, 0.07, 0.08, 0.07, 0.02, 0.07, 0.08, 0.07]
    return z


TEMPLATE_2D = _symmetric_template()
TEMPLATE_Z = _depths()
#: Head ellipsoid (centre, semi-axes) in model units; the pose pivot is its centre.
HEAD_CENTRE = np.array([0.0, -0.15, -0.45])
HEAD_AXES = np.array([0.5, 0.68, 0.5])


def shape_landmarks(shape: dict, expr: dict) -> np.ndarray:
    """Model-space 68 points ``(68, 3)`` for identity ``shape`` and expression ``expr``.

    ``shape`` keys (multiplicative factors around 1 unless noted): face_width, jaw_width,
    chin_length, eye_size, eye_spacing, eye_tilt (radians), nose_width, nose_length, mouth_width,
    lip_thickness, brow_height (offset), brow_arch (offset), offsets ((68, 2) fixed asymmetry).
    ``expr`` keys in [0, 1] unless noted: smile, mouth_open, brow_raise, eye_open (1 = normal),
    frown.
    """
    p = TEMPLATE_2D.copy()
    fw = shape["face_width"]
    p[:, 0] *= fw
    # jaw: lower points narrowed/widened, chin lengthened
    lower = np.clip((p[JAW, 1] + 0.2) / 0.7, 0, 1)
    p[JAW, 0] *= 1 + (shape["jaw_width"] - 1) * lower
    p[JAW, 1] += (shape["chin_length"] - 1) * 0.5 * lower ** 2
    # eyes: scale about each eye centre, move apart, tilt
    for sl, side in ((EYE_L, -1), (EYE_R, 1)):
        c = p[sl].mean(0)
        q = (p[sl] - c) * shape["eye_size"]
        ang = side * shape["eye_tilt"]
        rot = np.array([[np.cos(ang), np.sin(ang)], [-np.sin(ang), np.cos(ang)]])
        q = q @ rot.T
        q[:, 1] *= expr["eye_open"]
        c = c + np.array([side * (shape["eye_spacing"] - 1) * 0.2, 0])
        p[sl] = c + q
    # brows
    for sl in (BROW_L, BROW_R):
        p[sl, 1] -= shape["brow_height"] + 0.05 * expr["brow_raise"] - 0.02 * expr["frown"]
        mid = np.array([0.0, 0.7, 1.0, 0.7, 0.0])
        p[sl, 1] -= (shape["brow_arch"]) * (mid if sl == BROW_L else mid[::-1])
    p[21, 0] += 0.015 * expr["frown"]
    p[22, 0] -= 0.015 * expr["frown"]
    # nose
    nb = p[NOSE_BASE]
    p[NOSE_BASE, 0] = nb[:, 0] * shape["nose_width"]
    top = p[27, 1]
    p[27:36, 1] = top + (p[27:36, 1] - top) * shape["nose_length"]
    # mouth
    mc = p[LIPS_OUT].mean(0)
    for sl in (LIPS_OUT, LIPS_IN):
        q = p[sl] - mc
        q[:, 0] *= shape["mouth_width"] * (1 + 0.12 * expr["smile"])
        q[:, 1] *= shape["lip_thickness"]
        p[sl] = mc + q
    for i, s in ((48, -1), (54, 1), (60, -1), (64, 1)):
        p[i, 1] -= 0.045 * expr["smile"]
        p[i, 0] += s * 0.01 * expr["smile"]
    for i in (49, 53, 59, 55):
        p[i, 1] -= 0.02 * expr["smile"]
    op = 0.16 * expr["mouth_open"]
    for i, w in ((65, 0.9), (66, 1.0), (67, 0.9), (55, 0.8), (56, 0.95), (57, 1.0), (58, 0.95),
                 (59, 0.8)):
        p[i, 1] += op * w
    p[JAW, 1] += op * 0.6 * np.clip(1 - np.abs(np.arange(17) - 8) / 8.0, 0, 1) ** 1.5
    p += shape["offsets"]
    return np.concatenate([p, TEMPLATE_Z[:, None]], axis=1)


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation matrix ``(3, 3)`` for angles in degrees (yaw about y, pitch about x, roll z)."""
    y, p, r = np.deg2rad([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def project(points: np.ndarray, rot: np.ndarray, *, size: int, scale: float,
            centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Project model points ``(N, 3)`` to pixels ``(N, 2)``; also returns rotated depth ``(N,)``."""
    q = (points - HEAD_CENTRE) @ rot.T
    xy = size * (np.asarray(centre) + scale * q[:, :2])
    return xy, q[:, 2]


def skull_outline(face_width: float, n: int = 15) -> np.ndarray:
    """Upper head silhouette ``(n, 3)`` from the right temple over the crown to the left one."""
    a = HEAD_AXES[0] * face_width
    t = np.linspace(0.0, np.pi, n)
    x = a * np.cos(t)
    y = HEAD_CENTRE[1] - 0.04 - HEAD_AXES[1] * np.sin(t)
    z = np.full(n, HEAD_CENTRE[2])
    return np.stack([x, y, z], 1)


def surface_points(xy: np.ndarray, face_width: float) -> np.ndarray:
    """Points ``(N, 3)`` on the front of the head ellipsoid at model ``(x, y)``."""
    a, b, c = HEAD_AXES * np.array([face_width, 1.0, 1.0])
    u = np.clip(1 - (xy[:, 0] / a) ** 2 - ((xy[:, 1] - HEAD_CENTRE[1]) / b) ** 2, 0, 1)
    z = HEAD_CENTRE[2] + c * np.sqrt(u)
    return np.concatenate([xy, z[:, None]], 1)
