"""A face detector for tests without dlib: bright squares are faces. Importable (not defined in
a test module) so spawned processes and Ray workers can unpickle it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fakescope.data.faces import TEMPLATE_5, Face
from fakescope.data.images import save_image
from fakescope.data.video import write_video


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


class DyingBlobDetector(BlobDetector):
    """A BlobDetector whose first call in any process kills that process (a marker file in
    ``folder`` makes it happen once): a task killed mid-run, after some of its crops may have
    been written."""

    def __init__(self, folder):
        self.folder = str(folder)

    def detect(self, image):
        import os
        from pathlib import Path

        marker = Path(self.folder) / "killed"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(9)
        return super().detect(image)


def _scene(squares, size=64):
    img = np.zeros((size, size, 3), np.uint8)
    for x, y, s in squares:
        img[y:y + s, x:x + s] = 255
    return img


def face_media(d: Path) -> Path:
    """Two images (two faces, none), a 6-frame clip with two faces, an empty, a corrupt and a
    missing video: their manifest's path."""
    save_image(d / "two.png", _scene([(4, 8, 16), (40, 30, 20)]))
    save_image(d / "none.png", _scene([]))
    frames = [_scene([(4 + k, 8, 16), (40 - k, 30, 20)]) for k in range(6)]
    write_video(d / "clip.avi", frames, fps=5)
    (d / "zero.mp4").write_bytes(b"")
    (d / "junk.mp4").write_bytes(b"\x00garbage" * 40)
    rows = [("img/two", "two.png", 0), ("img/none", "none.png", 0), ("vid/clip", "clip.avi", 1),
            ("vid/zero", "zero.mp4", 1), ("vid/junk", "junk.mp4", 1), ("vid/gone", "gone.mp4", 1)]
    df = pd.DataFrame(rows, columns=["sample_id", "path", "label"])
    df["video_id"] = df["sample_id"]
    df["gender"] = "f"
    df.to_csv(d / "m.csv", index=False)
    return d / "m.csv"
