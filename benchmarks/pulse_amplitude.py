"""Heart-rate error of SynthFaces real clips against the pulse amplitude (the benchmark's
documented assumption) and the codec: prints one row per (amplitude, CRF) with the POS and
CHROM mean / median absolute error in bpm.

    python benchmarks/pulse_amplitude.py [--clips 6] [--seconds 6] [--domain studio]

Each clip is rendered once per amplitude (same person, motion, light and noise; only the pulse
differs), written with H.264 at each CRF, decoded, and its forehead + cheek trace read with the
ground-truth landmarks.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from fakescope.data.synthfaces.build import _ss
from fakescope.data.synthfaces.clip import render_clip
from fakescope.data.synthfaces.physiology import instantaneous_hr
from fakescope.data.synthfaces.traits import make_identities
from fakescope.data.synthfaces.video_build import VideoSynthConfig, _render_real
from fakescope.data.video_stream import read_clip, write_clip
from fakescope.signals.rppg import estimate_heart_rate
from fakescope.signals.traces import region_traces, roi_trace


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--domain", default="studio")
    ap.add_argument("--amplitudes", default="0.001,0.002,0.004,0.008")
    ap.add_argument("--crfs", default="0,6,12,23")
    a = ap.parse_args()
    amps = [float(v) for v in a.amplitudes.split(",")]
    crfs = [int(v) for v in a.crfs.split(",")]
    cfg = VideoSynthConfig(identities=a.clips, clips_per_identity=1, seconds=a.seconds,
                           domains=(a.domain,)).check()
    ids = make_identities(a.clips, seed=0)
    err: dict[tuple, list] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.clips):
            real = _render_real(cfg, ids[i], i, 0, a.domain)
            t = real.timeline.times
            truth = float(instantaneous_hr(real.pulse, t).mean())
            for amp in amps:
                real.pulse.amplitude = amp
                clip = render_clip(ids[i], real.anchor, real.timeline, real.pulse, size=cfg.size,
                                   noise_rng=_ss(cfg, 21, i, 0))
                for crf in crfs:
                    path = Path(tmp) / f"{i}_{amp}_{crf}.mp4"
                    write_clip(path, clip.frames, cfg.fps, codec="h264", crf=crf)
                    face = roi_trace(region_traces(read_clip(path).frames, clip.landmarks))
                    for m in ("pos", "chrom"):
                        hr = estimate_heart_rate(face, cfg.fps, m).hr_bpm
                        err.setdefault((amp, crf, m), []).append(abs(hr - truth))
    print(f"# {a.clips} {a.domain} clips of {a.seconds:g} s, {time.perf_counter() - t0:.0f} s")
    print("amplitude  crf   pos_mae  pos_median  chrom_mae  chrom_median")
    for amp in amps:
        for crf in crfs:
            p, c = np.array(err[amp, crf, "pos"]), np.array(err[amp, crf, "chrom"])
            print(f"{amp:9.3f}  {crf:3d}  {p.mean():8.1f}  {np.median(p):10.1f}  "
                  f"{c.mean():9.1f}  {np.median(c):12.1f}")


if __name__ == "__main__":
    main()
