"""Throughput of ``fakescope serve`` with 8 clients sending images one by one, against
``fakescope detect`` scoring the same images in one batch (the same detectors, options and
uncertainty method), on this machine.

    python benchmarks/serve_throughput.py --model A/best --model B/best --images 256

Prints images/s of each, the ratio serve / detect (the target is >= 0.7 with 8 clients),
p50/p95 request latency and the number of failed requests. detect's time is the sum over the
detectors (each ``--model`` of the service is its own detector, so detect runs once per
checkpoint), measured after a warm-up call, model loading excluded; the server is warmed up too.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from serve_load import free_port, png, start_server  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--size", type=int, default=128, help="side of the test images (px)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--max-batch-size", type=int, default=16)
    ap.add_argument("--batch-timeout-ms", type=float, default=10.0)
    ap.add_argument("--faces", default="none", help="none (synthetic test images have no "
                    "face) or auto")
    ap.add_argument("--samples", type=int, default=16)
    a = ap.parse_args(argv)
    from fakescope.detect import load_session
    from fakescope.serve.detectors import has_head_dropout

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        blobs = [png(a.size, a.size, seed=i) for i in range(a.images)]
        for i, b in enumerate(blobs):
            (folder / f"{i:05d}.png").write_bytes(b)
        detect_s = 0.0
        for m in a.model:
            s = load_session(m, device="cpu", faces=a.faces, batch_size=a.max_batch_size,
                             samples=a.samples)
            method = "mc_head" if has_head_dropout(s.models[0]) else "none"
            list(s.iter_detect([folder / "00000.png"], uncertainty=method))  # warm-up
            t = time.perf_counter()
            out = list(s.iter_detect([folder], uncertainty=method))
            detect_s += time.perf_counter() - t
            assert len(out) == a.images and not any("error" in r for r in out)
        detect_ips = a.images / detect_s

        port = free_port()
        proc = start_server(a.model, port=port, data_dir=str(Path(tmp) / "data"), extra=[
            "--faces", a.faces, "--max-batch-size", str(a.max_batch_size),
            "--batch-timeout-ms", str(a.batch_timeout_ms), "--samples", str(a.samples)])
        url = f"http://127.0.0.1:{port}/detect"
        lat, errors = [], 0
        try:
            def send(i, client):
                t = time.perf_counter()
                r = client.post(url, files=[("files", (f"{i}.png", blobs[i]))])
                return time.perf_counter() - t, r.status_code

            def client_loop(k):
                res = []
                with httpx.Client(timeout=120) as c:
                    for i in range(k, a.images, a.clients):
                        res.append(send(i, c))
                return res

            def warm(k):
                with httpx.Client(timeout=120) as c:
                    return send(k, c)

            with ThreadPoolExecutor(a.clients) as pool:
                list(pool.map(warm, range(a.clients)))
            t = time.perf_counter()
            with ThreadPoolExecutor(a.clients) as pool:
                for res in pool.map(client_loop, range(a.clients)):
                    for dt, code in res:
                        lat.append(dt)
                        errors += code != 200
            serve_s = time.perf_counter() - t
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    serve_ips = a.images / serve_s
    print(f"{a.images} images of {a.size} px, {len(a.model)} detector(s), faces={a.faces}, "
          f"{a.clients} clients, max batch {a.max_batch_size}, timeout {a.batch_timeout_ms} ms")
    print(f"fakescope detect (one batch): {detect_ips:.1f} images/s")
    print(f"fakescope serve ({a.clients} clients, one image a request): {serve_ips:.1f} images/s")
    print(f"ratio serve / detect: {serve_ips / detect_ips:.2f} (target >= 0.7)")
    print(f"latency p50 {np.percentile(lat, 50) * 1000:.0f} ms, "
          f"p95 {np.percentile(lat, 95) * 1000:.0f} ms; failed requests: {errors}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
