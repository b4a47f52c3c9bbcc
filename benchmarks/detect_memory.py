"""Peak memory of streaming ``fakescope detect`` over 500 and 5,000 images.

    python benchmarks/detect_memory.py [--small 500] [--large 5000] [--size 96] [--batch 32]

Writes ``--large`` random PNGs (``--size`` px, one face box each for a stand-in face detector,
so dlib's speed does not set the time), trains nothing: a tiny detector checkpoint with OOD
statistics is written once. Each run scores a folder in a fresh process (so peaks do not mix),
through the same session API the CLI uses, writing JSON lines to /dev/null, and reports the
process's peak resident memory (``ru_maxrss``). Target: peak(large) / peak(small) <= 1.3.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def child(folder: str, ckpt: str, batch: int) -> None:
    from fakescope.data.faces import Face
    from fakescope.detect import DetectSession
    from fakescope.report.jsonable import to_json

    class Centre:
        def detect(self, image):
            h, w = image.shape[:2]
            return [Face((0.2 * w, 0.2 * h, 0.8 * w, 0.8 * h), 1.0)]

    session = DetectSession.load(ckpt, batch_size=batch, face_detector=Centre())
    t0 = time.perf_counter()
    n = 0
    with open("/dev/null", "w") as sink:
        for r in session.iter_detect([folder]):
            sink.write(to_json(r, indent=None) + "\n")
            n += 1
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"files": n, "peak_mb": peak_mb, "seconds": time.perf_counter() - t0}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=500)
    ap.add_argument("--large", type=int, default=5000)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child[0], a.child[1], int(a.child[2]))
        return
    import torch

    from fakescope.data.images import save_image
    from fakescope.models import create_detector
    from fakescope.models.checkpoint import save_detector
    from fakescope.uncertainty.ood import fit_ood, layer_features, save_ood

    tmp = Path(tempfile.mkdtemp(prefix="detect-mem-"))
    torch.manual_seed(0)
    model = create_detector("tiny", image_size=32).eval()
    ckpt = save_detector(model, tmp / "ckpt")
    x = torch.rand(64, 3, 32, 32)
    f = layer_features(model, x)
    save_ood(ckpt, fit_ood(f, np.arange(64) % 2, f))
    rng = np.random.default_rng(0)
    for n in (a.small, a.large):
        d = tmp / f"n{n}"
        for i in range(n):
            save_image(d / f"{i:05d}.png", rng.integers(0, 255, (a.size, a.size, 3), np.uint8))
    peaks = {}
    for n in (a.small, a.large):
        out = subprocess.run([sys.executable, __file__, "--child", str(tmp / f"n{n}"), str(ckpt),
                              str(a.batch)], capture_output=True, text=True, check=True)
        peaks[n] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{n:6d} images: peak RSS {peaks[n]['peak_mb']:.0f} MB, "
              f"{peaks[n]['seconds']:.1f} s ({peaks[n]['files']} results)")
    print(f"peak ratio {a.large} / {a.small}: "
          f"{peaks[a.large]['peak_mb'] / peaks[a.small]['peak_mb']:.3f} (target <= 1.3)")


if __name__ == "__main__":
    main()
