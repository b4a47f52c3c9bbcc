"""Signal-extraction throughput: the full per-clip pipeline against decode + landmarks alone.

    python benchmarks/video_pipeline.py [--clips 4] [--seconds 6] [--fps 25] [--width 320]
                                        [--detect-every 10] [--workers 2]

Clips: SynthFaces faces (rendered once at 0.5 x width px, 68 true landmarks) drifting and
rolling slowly on a ``width x 0.75 width`` canvas, the skin pulsing at 60-100 bpm (1 % in green),
camera noise, written as H.264 CRF 23. Identities dlib's HOG detector misses in the first frame
are skipped. Timed on the same clips, best of ``--repeats``, models loaded beforehand:

- *decode*: PyAV decoding alone (``iter_frames``);
- *decode + detect every frame*: dlib HOG + 68 landmarks on every decoded frame (the bare way);
- *decode + detect/track*: the pipeline's landmark stage alone (HOG every k frames,
  Lucas-Kanade between);
- *full*: ``clip_signals``: decode + detect/track + region/grid colour traces + Farneback flow
  traces + trajectories + POS/CHROM/GREEN heart rates.

Ratios full / (decode + detect every frame) and full / (decode + detect/track); target >= 0.7
for the first. Then ``extract_signals`` over all clips with 1 and ``--workers`` processes (wall
time, spawn start-up included; the start-up of one worker is timed too, and the speed-up
without it estimated). Without dlib, ground-truth landmarks replace the detector and
only decode and full are timed (the output says so). The machine may be shared: numbers vary.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


def make_clip(path: Path, seed: int, *, seconds: float, fps: float, width: int):
    """Write one clip; returns its true landmarks (T, 68, 2), first frame and heart rate."""
    from fakescope.data.synthfaces import make_identities, render_face, sample_view
    from fakescope.data.video_stream import write_clip

    rng = np.random.default_rng(seed)
    size, h = width // 2, int(width * 0.75)
    r = render_face(make_identities(1, seed=seed)[0], sample_view(rng, "studio"), size=size)
    img = r.image.astype(np.float32) * 255
    skin = (r.face_mask > 0).astype(np.float32)[..., None] * np.float32([0.5, 1.0, 0.3])
    hr = rng.uniform(60, 100)
    frames, lms = [], []
    for k in range(int(seconds * fps)):
        t = k / fps
        m = cv2.getRotationMatrix2D((size / 2, size / 2), 4 * np.sin(2 * np.pi * 0.15 * t), 1.0)
        m[:, 2] += ((width - size) / 2 + 0.1 * width * np.sin(2 * np.pi * 0.2 * t),
                    (h - size) / 2 + 0.03 * h * np.sin(2 * np.pi * 0.3 * t))
        pulse = 1 + 0.01 * np.sin(2 * np.pi * hr / 60 * t) * skin
        f = cv2.warpAffine(img * pulse, m, (width, h), borderMode=cv2.BORDER_REFLECT)
        frames.append(np.clip(f + rng.normal(0, 2, f.shape), 0, 255).astype(np.uint8))
        lms.append(r.landmarks @ m[:, :2].T + m[:, 2])
    write_clip(path, frames, fps, crf=23)
    return np.stack(lms).astype(np.float32), frames[0], hr


def _worker_startup() -> bool:
    """What a spawned extract_signals worker does before its first clip."""
    import fakescope.signals.pipeline  # noqa: F401
    from fakescope.data.faces import create_face_detector

    create_face_detector("hog").detect(np.zeros((64, 64, 3), np.uint8))
    return True


def startup_seconds() -> float:
    """Wall time to spawn one worker, import the pipeline and load dlib's models."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    t0 = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        pool.submit(_worker_startup).result()
    return time.perf_counter() - t0


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--detect-every", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    print("command: python benchmarks/video_pipeline.py " + " ".join(sys.argv[1:] or []))

    from fakescope.data.face_tracking import track_faces
    from fakescope.data.video_stream import iter_frames
    from fakescope.signals.pipeline import clip_signals, extract_signals

    try:
        from fakescope.data.faces import create_face_detector

        det = create_face_detector("hog")
        det.detect(np.zeros((64, 64, 3), np.uint8))  # load the models now
    except Exception as exc:  # noqa: BLE001 - dlib or its models missing
        print(f"dlib unavailable ({exc}): ground-truth landmarks replace the detector")
        det = None

    tmp = Path(tempfile.mkdtemp(prefix="video_pipeline_"))
    clips, truths, true_hr, seed = [], {}, {}, 0
    t0 = time.perf_counter()
    while len(clips) < args.clips and seed < 4 * args.clips:
        path = tmp / f"clip{seed}.mp4"
        lm, first, hr = make_clip(path, seed, seconds=args.seconds, fps=args.fps,
                                  width=args.width)
        seed += 1
        if det is not None and not det.detect(first):
            path.unlink()
            continue
        clips.append(path)
        truths[path], true_hr[path] = lm, hr
    n_frames = sum(len(truths[p]) for p in clips)
    print(f"clips: {len(clips)} SynthFaces H.264 CRF 23 clips, {args.width}x"
          f"{int(args.width * 0.75)}, {args.seconds:g} s at {args.fps:g} fps = {n_frames} frames "
          f"(made in {time.perf_counter() - t0:.1f} s; detector: "
          f"{'dlib HOG' if det else 'none, true landmarks'}, detect every {args.detect_every})")

    def decode():
        for p in clips:
            for _ in iter_frames(p):
                pass

    def detect_all():
        for p in clips:
            for _, rgb in iter_frames(p):
                det.detect(rgb)

    def detect_track():
        for p in clips:
            track_faces((rgb for _, rgb in iter_frames(p)), det, detect_every=args.detect_every)

    hrs = {}

    def full():
        for p in clips:
            s = clip_signals(p, detector=det, landmarks=None if det else truths[p],
                             detect_every=args.detect_every)
            hrs[p] = s.heart_rates["pos"].hr_bpm

    rows = [("decode", best_of(args.repeats, decode))]
    if det is not None:
        rows.append(("decode + detect every frame", best_of(args.repeats, detect_all)))
        rows.append(("decode + detect/track", best_of(args.repeats, detect_track)))
    rows.append(("full signal extraction", best_of(args.repeats, full)))
    fps = {name: n_frames / sec for name, sec in rows}
    print(f"{'stage':<32}{'frames/s':>10}")
    for name, _ in rows:
        print(f"{name:<32}{fps[name]:>10.1f}")
    full_fps = fps["full signal extraction"]
    for base in ("decode + detect every frame", "decode + detect/track", "decode"):
        if base in fps:
            print(f"ratio full / ({base}) = {full_fps / fps[base]:.2f}")

    walls = {}
    source = clips
    if det is None:  # true landmarks through a manifest's landmarks_path column
        import pandas as pd

        for i, p in enumerate(clips):
            np.save(tmp / f"lm{i}.npy", truths[p])
        source = pd.DataFrame({"sample_id": [p.name for p in clips],
                               "path": [str(p) for p in clips], "label": 0,
                               "landmarks_path": [str(tmp / f"lm{i}.npy")
                                                  for i in range(len(clips))]})
    for workers in (1, args.workers):
        t0 = time.perf_counter()
        s = extract_signals(source, tmp / f"out{workers}", workers=workers,
                            detect_every=args.detect_every, progress=False,
                            landmarks="detect" if det else "manifest")
        walls[workers] = time.perf_counter() - t0
        print(f"extract_signals workers={workers}: {walls[workers]:.1f} s wall "
              f"({n_frames / walls[workers]:.1f} frames/s), done {s.done}, failed {s.failed}")
    print(f"speed-up {args.workers} workers vs 1: {walls[1] / walls[args.workers]:.2f}x")
    if det is not None:
        start = startup_seconds()
        print(f"one spawned worker's start-up (imports + dlib models): {start:.1f} s; "
              f"speed-up without it (estimate): "
              f"{walls[1] / max(walls[args.workers] - start, 1e-6):.2f}x")
    print("POS heart rate, estimated / true (bpm): " + ", ".join(
        f"{hrs[p]:.0f}/{true_hr[p]:.0f}" for p in clips))
    print(f"load average over 1 min at the end: {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs (other processes slow the multi-worker run)")


if __name__ == "__main__":
    main()
