"""A face detector for tests without dlib: bright squares are faces. Importable (not defined in
a test module) so spawned processes and Ray workers can unpickle it."""

from __future__ import annotations

import cv2
import numpy as np

from fakescope.data.faces import TEMPLATE_5, Face


def _landmarks68(box) -> np.ndarray:
    """68 points whose 5 key points are the ArcFace template placed in ``box``."""
    x0, y0, x1, y1 = box
    t = TEMPLATE_5 * [x1 - x0, y1 - y0] + [x0, y0]
    lm = np.zeros((68, 2), np.float32)
    lm[36:42], lm[42:48], lm[30], lm[48], lm[54] = t[0], t[1], t[2], t[3], t[4]
    return lm


class BlobDetector:
    """Bright squares are faces (connected components of pixels > 200)."""

    def detect(self, image):
        gray = image.max(axis=2)
        n, _, stats, _ = cv2.connectedComponentsWithStats((gray > 200).astype(np.uint8))
        faces = []
        for x, y, w, h, area in stats[1:]:
            if area >= 16:
                box = (float(x), float(y), float(x + w), float(y + h))
                faces.append(Face(box, 1.0, _landmarks68(box)))
        return faces
