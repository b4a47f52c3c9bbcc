"""How the cost of face extraction and scoring grows with the work and the workers, and what
Ray costs on one node; peak memory of scoring 1x and 10x the rows.

    python benchmarks/scaling.py [--clips 4] [--frames 8] [--rows 2048] [--memory-rows 500]
                                 [--workers 2] [--skip-ray]

*Face extraction*: ``extract_faces`` (dlib HOG, 68 landmarks, 256 px crops) over 1x, 2x and 4x
``--clips`` clips of ``--frames`` frames (matplotlib's bundled photograph, a real face, moving on
a 640 x 480 canvas). *Scoring*: ``score_rows`` (ResNet-18, random weights, 96 px PNGs, batch
32, chunks of 128 rows) over 1x, 2x, 4x ``--rows`` rows. Each size runs on the local backend with
1 and ``--workers`` processes and on Ray (one node, ``--workers`` CPUs, started once beforehand:
its start-up is printed apart; a local pool is started by every run, so its start-up, printed
for scoring as the time of a 32-row run, is in the times). Printed: seconds, the cost ratio t(kx) / t(1x) of each backend
(1, 2, 4 = linear), and each backend's time / local-1's (the speed-up, and Ray's overhead).
*Memory*: ``score_rows`` in a fresh process over ``--memory-rows`` and 10x as many rows (tiny
detector, 64 px), peak resident memory (``ru_maxrss``) of each and their ratio (1.0 =
streaming: no step holds the manifest's images). Every worker uses one thread
(OMP_NUM_THREADS=1), so worker counts compare like with like.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SIZES = (1, 2, 4)


def face_clips(folder: Path, n: int, frames: int) -> Path:
    """``n`` clips (the same moving face, shifted per clip) and their manifest."""
    sys.path.insert(0, str(Path(__file__).parent))
    from face_extraction import make_frames

    from fakescope.data.video import write_video

    base = make_frames(frames + n, 640)
    rows = []
    for i in range(n):
        write_video(folder / f"c{i:03d}.mp4", base[i:i + frames], fps=25)
        rows.append((f"clip{i:03d}", f"c{i:03d}.mp4", i % 2))
    pd.DataFrame(rows, columns=["sample_id", "path", "label"]).to_csv(folder / "m.csv",
                                                                      index=False)
    return folder / "m.csv"


def image_rows(folder: Path, n: int, size: int) -> pd.DataFrame:
    from fakescope.data.images import save_image

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        p = folder / f"{i:05d}.png"
        if not p.exists():
            save_image(p, rng.integers(0, 255, (size, size, 3), np.uint8))
    df = pd.DataFrame({"sample_id": [f"{i:05d}" for i in range(n)],
                       "path": [str(folder / f"{i:05d}.png") for i in range(n)],
                       "label": [i % 2 for i in range(n)]})
    df.attrs["root"] = str(folder)
    return df


def make_run(name: str, size: int):
    import torch

    from fakescope.config import TrainConfig
    from fakescope.models import create_detector
    from fakescope.train.run import Run

    torch.manual_seed(0)
    cfg = TrainConfig()
    cfg.data.image_size = size
    return Run(create_detector(name, image_size=size).eval(), cfg)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def report(title: str, times: dict[str, dict[int, float]]) -> None:
    print(f"\n{title}")
    base = times["local x1"]
    print(f"{'backend':<12}" + "".join(f"{f'{k}x s':>9}" for k in SIZES)
          + "".join(f"{f'{k}x/1x':>8}" for k in SIZES[1:])
          + "".join(f"{f'vs local1 {k}x':>15}" for k in SIZES))
    for name, t in times.items():
        print(f"{name:<12}" + "".join(f"{t[k]:9.2f}" for k in SIZES)
              + "".join(f"{t[k] / t[1]:8.2f}" for k in SIZES[1:])
              + "".join(f"{t[k] / base[k]:15.2f}" for k in SIZES))


def memory_child(n: int, folder: str) -> None:
    from fakescope.train.score_tasks import score_rows

    rows = image_rows(Path(folder), n, 64)
    t0 = time.perf_counter()
    table = score_rows(make_run("tiny", 64), rows, batch_size=64, chunk_rows=512)
    print(json.dumps({"rows": len(table), "seconds": time.perf_counter() - t0,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--memory-rows", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        memory_child(int(a.child[0]), a.child[1])
        return
    from fakescope.backends import Backend
    from fakescope.data.face_extraction import extract_faces
    from fakescope.train.score_tasks import score_rows

    tmp = Path(tempfile.mkdtemp(prefix="scaling-"))
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    backends = {"local x1": Backend(), f"local x{a.workers}": Backend("local", a.workers)}
    if not a.skip_ray:
        import ray

        path = os.pathsep.join(p for p in sys.path if p)
        start = timed(lambda: ray.init(num_cpus=a.workers, include_dashboard=False,
                                       logging_level="ERROR", log_to_driver=False,
                                       runtime_env={"env_vars": {"PYTHONPATH": path}}))
        print(f"Ray start-up (not in the times below): {start:.2f} s")
        backends[f"ray x{a.workers}"] = Backend("ray", a.workers)

    manifests = {}
    for k in SIZES:
        d = tmp / f"clips{k}"
        d.mkdir()
        manifests[k] = face_clips(d, a.clips * k, a.frames)
    faces: dict[str, dict[int, float]] = {}
    for name, be in backends.items():
        faces[name] = {k: timed(lambda k=k, name=name, be=be: extract_faces(
            manifests[k], tmp / f"faces-{name.replace(' ', '')}-{k}", frames_per_video=None,
            size=256, backend=be)) for k in SIZES}
    crops = len(pd.read_csv(tmp / f"faces-localx1-{SIZES[-1]}" / "faces.csv"))
    report(f"face extraction: {a.clips}/{2 * a.clips}/{4 * a.clips} clips x {a.frames} frames "
           f"(dlib HOG, 640x480; {crops} crops at 4x)", faces)

    run = make_run("resnet18", 96)
    rows = image_rows(tmp / "img", a.rows * SIZES[-1], 96)
    for name, be in backends.items():  # a fixed cost each run pays: start workers, load model
        once = timed(lambda be=be: score_rows(run, rows.iloc[:32], backend=be, batch_size=32))
        print(f"scoring 32 rows (start-up + one batch), {name}: {once:.2f} s")
    scoring: dict[str, dict[int, float]] = {}
    for name, be in backends.items():
        scoring[name] = {k: timed(lambda k=k, be=be: score_rows(
            run, rows.iloc[:a.rows * k], backend=be, batch_size=32, chunk_rows=128))
            for k in SIZES}
    report(f"scoring: {a.rows}/{2 * a.rows}/{4 * a.rows} rows (ResNet-18, 96 px, batch 32, "
           "chunks of 128)", scoring)
    if not a.skip_ray:
        import ray

        ray.shutdown()

    print("\nscoring memory (tiny detector, 64 px, batch 64, chunks of 512, one process)")
    peaks = {}
    for n in (a.memory_rows, 10 * a.memory_rows):
        out = subprocess.run([sys.executable, __file__, "--child", str(n), str(tmp / "mem")],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        peaks[n] = r["peak_mb"]
        print(f"{n:>7} rows: peak {r['peak_mb']:.0f} MB, {r['seconds']:.2f} s")
    print(f"peak({10 * a.memory_rows}) / peak({a.memory_rows}) = "
          f"{peaks[10 * a.memory_rows] / peaks[a.memory_rows]:.3f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
