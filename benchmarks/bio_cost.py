"""Where a biological detector's time goes per clip: signal extraction, maps, forward passes.

    python benchmarks/bio_cost.py [--identities 4] [--seconds 6] [--size 128] [--samples 16]
                                  [--repeats 3] [--threads 0] [--no-detect]

Clips: SynthFaces video (``build_video_benchmark``, studio domain, generator sbi: each identity
gives a real clip and its fake, H.264). Per clip, milliseconds of:

- *signals gt*: decode + signals with the ground-truth landmarks, no optical flow (what
  ``ppg_map`` training extracts: ``clip_signals(flow="none")``);
- *signals gt+flow*: the same with Farneback flow on the face crop (what ``motion_map`` needs);
- *signals dlib*: decode + dlib HOG every 10 frames + Lucas-Kanade tracking, no flow (what
  ``fakescope detect CLIP.mp4 --model <ppg_map>`` runs; ``--no-detect`` skips it);
- *ppg map* / *motion map*: ``clip_maps`` from those signals (all windows of the clip);
- *ppg fwd* / *motion fwd*: one deterministic forward pass of the (untrained) ``ppg_map`` /
  ``motion_map`` CNN over the clip's windows; *ppg mc16* / *motion mc16*: MC dropout with
  ``--samples`` passes (``predict(method="mc")``: every pass runs the whole CNN, because the
  blocks' Dropout2d is sampled too).

Extraction is timed once per clip (it decodes the file; the first clip also pays for loading
dlib, so it is warmed up on that clip first); maps and forward passes are the best of
``--repeats``. The median over clips and each stage's share of the ppg_map path (signals gt +
ppg map + ppg fwd) are printed last. The machine may be shared: numbers vary.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from fakescope.data.manifest import resolve_path
from fakescope.data.synthfaces.video_build import build_video_benchmark
from fakescope.models import create_detector
from fakescope.models.predict import predict
from fakescope.signals.maps import MapSpec, clip_maps
from fakescope.signals.pipeline import clip_signals, load_landmarks


def _ms(fn, repeats: int = 1) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return 1000.0 * best, out


def clip_costs(path: Path, landmarks: np.ndarray, models: dict, *, samples: int, repeats: int,
               detect: bool) -> dict[str, float]:
    """Milliseconds of each stage for one clip (see the module doc)."""
    row: dict[str, float] = {}
    row["signals gt"], sig = _ms(lambda: clip_signals(path, landmarks=landmarks, flow="none",
                                                      methods=("pos",)))
    row["signals gt+flow"], sig_f = _ms(lambda: clip_signals(path, landmarks=landmarks,
                                                             methods=("pos",)))
    if detect:
        row["signals dlib"], _ = _ms(lambda: clip_signals(path, flow="none", methods=("pos",)))
    row["ppg map"], (ppg, _) = _ms(lambda: clip_maps(sig.arrays(), MapSpec("ppg")), repeats)
    row["motion map"], (mot, _) = _ms(lambda: clip_maps(sig_f.arrays(), MapSpec("motion")),
                                      repeats)
    for kind, maps in (("ppg", ppg), ("motion", mot)):
        x = torch.from_numpy(maps)
        model = models[kind]
        row[f"{kind} fwd"], _ = _ms(lambda m=model, x=x: predict(m, x, method="none"), repeats)
        row[f"{kind} mc{samples}"], _ = _ms(
            lambda m=model, x=x: predict(m, x, method="mc", samples=samples), repeats)
    row["windows"] = float(len(ppg))
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--identities", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--size", type=int, default=128, help="frame side in px")
    ap.add_argument("--samples", type=int, default=16, help="MC dropout passes")
    ap.add_argument("--repeats", type=int, default=3, help="best of, for maps and passes")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--no-detect", action="store_true", help="skip the dlib-tracking column")
    ap.add_argument("--out", default=None, help="benchmark folder (default: a temporary one)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    print("command: python benchmarks/bio_cost.py " + " ".join(sys.argv[1:] if argv is None
                                                                else argv))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(a.out or tmp)
        t0 = time.perf_counter()
        df = build_video_benchmark(root, identities=a.identities, clips_per_identity=1,
                                   seconds=a.seconds, size=a.size, domains=("studio",),
                                   generators=("sbi",))
        print(f"clips: {len(df)} SynthFaces video clips, {a.size} px, {a.seconds:g} s at "
              f"{df['fps'].iloc[0]:g} fps (built in {time.perf_counter() - t0:.0f} s); torch "
              f"threads {torch.get_num_threads()}, {os.cpu_count()} CPUs")
        torch.manual_seed(0)
        models = {k: create_detector(f"{k}_map", dropout=0.3).eval() for k in ("ppg", "motion")}
        for m in models.values():  # warm-up: thread pool and kernels
            predict(m, torch.zeros(4, 3, 64, 64), method="mc", samples=a.samples)
        first = df.iloc[0]
        if not a.no_detect:  # load dlib's models once before timing
            clip_signals(resolve_path(df, first["path"]), flow="none", methods=("pos",))
        rows = []
        for r in df.itertuples():
            lm = load_landmarks(resolve_path(df, r.landmarks_path))
            row = clip_costs(resolve_path(df, r.path), lm, models, samples=a.samples,
                             repeats=a.repeats, detect=not a.no_detect)
            rows.append({"clip": r.sample_id, **row})
    cols = [c for c in rows[0] if c not in ("clip", "windows")]
    print(f"\nms per clip ({int(rows[0]['windows'])} windows of 64 frames, stride 32)")
    print(f"{'clip':<22}" + "".join(f"{c:>16}" for c in cols))
    for row in rows:
        print(f"{row['clip']:<22}" + "".join(f"{row[c]:>16.1f}" for c in cols))
    med = {c: statistics.median(r[c] for r in rows) for c in cols}
    print(f"{'median':<22}" + "".join(f"{med[c]:>16.1f}" for c in cols))
    path = med["signals gt"] + med["ppg map"] + med["ppg fwd"]
    print(f"\nppg_map path per clip (signals gt + ppg map + ppg fwd): {path:.0f} ms = "
          f"{100 * med['signals gt'] / path:.0f} % signals, {100 * med['ppg map'] / path:.0f} % "
          f"map, {100 * med['ppg fwd'] / path:.1f} % forward; mc{a.samples} costs "
          f"{med[f'ppg mc{a.samples}'] / med['ppg fwd']:.1f}x the forward pass")
    print(f"load average over 1 min at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
          "CPUs")


if __name__ == "__main__":
    main()
