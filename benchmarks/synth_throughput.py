"""Throughput of SynthFaces: render + camera + fake generation + PNG/mask/landmark writes.

Usage: python benchmarks/synth_throughput.py [--images 5000] [--size 128] [--workers N]
Prints images/s (real + fake images written; each real image gets one fake). Target: 5,000
images at 128 px in < 60 s on 2 cores (>= 83 images/s).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from fakescope.data.synthfaces.build import build_benchmark


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--per-identity", type=int, default=10)
    args = ap.parse_args()
    n_ids = max(1, args.images // (2 * args.per_identity))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        df = build_benchmark(tmp, identities=n_ids, images_per_identity=args.per_identity,
                             size=args.size, seed=0, workers=args.workers)
        dt = time.perf_counter() - t0
    n = len(df)
    print(f"{n} images ({n // 2} real + {n // 2} fake) at {args.size} px, {args.workers} workers: "
          f"{dt:.1f} s -> {n / dt:.1f} images/s (target >= 83 images/s on 2 cores)")


if __name__ == "__main__":
    main()
