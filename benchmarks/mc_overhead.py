"""Cost of head-only MC dropout against one deterministic forward pass (and full-network MC).

    python benchmarks/mc_overhead.py [--detector resnet18] [--size 112] [--batch 16]
                                     [--samples 32] [--repeats 3] [--device cpu]

Prints the median wall time of: one deterministic forward pass of the batch; head-only MC
dropout with T samples (``predict_samples(method="mc_head")``: one backbone pass, the features
repeated T times through the heads in one batch); full-network MC dropout (T forward passes).
Target: head-only / deterministic <= 1.5.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from fakescope.models import create_detector
from fakescope.models.predict import predict_samples


def _time(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--detector", default="resnet18")
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--no-full", action="store_true", help="skip the (slow) full-network MC")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.manual_seed(0)
    model = create_detector(a.detector, dropout=0.3, image_size=a.size).to(dev).eval()
    x = torch.rand(a.batch, 3, a.size, a.size, generator=torch.Generator().manual_seed(0)).to(dev)
    kw = {"samples": a.samples, "batch_size": a.batch}

    def det():
        with torch.no_grad():
            model(x)["detect"].softmax(-1).cpu()

    t_det = _time(det, a.repeats, dev)
    t_head = _time(lambda: predict_samples(model, x, method="mc_head", **kw), a.repeats, dev)
    print(f"{a.detector} {a.size}px batch {a.batch} on {dev}, T = {a.samples}, "
          f"threads {torch.get_num_threads()}")
    print(f"deterministic forward : {t_det * 1000:9.1f} ms")
    print(f"head-only MC (T={a.samples:<3d}) : {t_head * 1000:9.1f} ms   ratio {t_head / t_det:.2f}x "
          f"(target <= 1.5)")
    if not a.no_full:
        t_full = _time(lambda: predict_samples(model, x, method="mc", **kw), max(1, a.repeats // 3),
                       dev)
        print(f"full MC      (T={a.samples:<3d}) : {t_full * 1000:9.1f} ms   ratio {t_full / t_det:.2f}x")


if __name__ == "__main__":
    main()
