"""Bounded loopback load test of ``fakescope serve``: good and bad uploads mixed.

Starts the server in its own process on a free loopback port, warms it up, then sends
``--requests`` uploads from ``--concurrency`` client threads: valid PNGs, text named .png
(415), a decompression-bomb header (422), a 1 x 1 image (422) and an image over the size limit
(413). Prints the status counts, every unexpected answer, p50/p95 latency, and the server's
resident memory (VmRSS) after warm-up, at the peak and 2 s after the load. Exit code 1 when any
answer is a 5xx or not the expected code, or memory ends more than 20 % above its start.

    python benchmarks/serve_load.py --model runs/demo/models/resnet18/best --requests 300
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def png(w: int, h: int, seed: int = 0) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def bomb(w: int = 40000, h: int = 40000) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def start_server(models: list[str], *, port: int, data_dir: str, extra: list[str] = ()
                 ) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "fakescope.cli.main", "serve", "--port", str(port),
           "--data-dir", data_dir, *extra]
    for m in models:
        cmd += ["--model", m]
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    log = Path(data_dir) / "server.log"  # a pipe nobody reads would block a chatty server
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server not ready after 60 s")


def mixed_uploads(image_limit_bytes: int) -> list[tuple[str, bytes, int]]:
    """(name, bytes, expected status) of each kind of upload the load test sends."""
    big = png(900, 900, seed=9)
    assert len(big) > image_limit_bytes, "the oversize image must exceed the limit"
    return ([(f"good{i}.png", png(96, 96, seed=i), 200) for i in range(7)]
            + [("notes.png", b"plain text pretending to be an image " * 4, 415),
               ("bomb.png", bomb(), 422), ("dot.png", png(1, 1), 422),
               ("huge.png", big, 413)])


def run_load(url: str, uploads, *, requests: int, concurrency: int, pid: int | None = None,
             api_key: str | None = None) -> dict:
    """Send ``requests`` uploads round-robin from ``uploads``; returns the summary dict."""
    headers = {"X-API-Key": api_key} if api_key else {}
    lat, statuses, wrong = [], Counter(), []
    peak = [rss_kb(pid) if pid else 0]
    lock = threading.Lock()
    local = threading.local()
    clients = []

    def one(i):
        name, data, want = uploads[i % len(uploads)]
        client = getattr(local, "c", None)
        if client is None:
            client = local.c = httpx.Client(timeout=120)
            with lock:
                clients.append(client)
        t = time.perf_counter()
        r = client.post(url + "/detect", files=[("files", (name, data))], headers=headers)
        dt = time.perf_counter() - t
        with lock:
            lat.append(dt)
            statuses[r.status_code] += 1
            if r.status_code != want:
                wrong.append((name, want, r.status_code, r.text[:200]))
            if pid and i % 10 == 0:
                peak[0] = max(peak[0], rss_kb(pid))

    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(requests)))
    finally:
        for c in clients:
            c.close()
    wall = time.perf_counter() - t0
    return {"requests": requests, "concurrency": concurrency, "wall_s": wall,
            "statuses": dict(sorted(statuses.items())), "wrong": wrong,
            "server_errors": sum(v for k, v in statuses.items() if k >= 500),
            "p50_s": float(np.percentile(lat, 50)), "p95_s": float(np.percentile(lat, 95)),
            "peak_rss_kb": peak[0]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--image-mb", type=float, default=1.0, help="server's image size limit")
    a = ap.parse_args(argv)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_server(a.model, port=port, data_dir=tmp,
                            extra=["--image-mb", str(a.image_mb), "--faces", "none"])
        try:
            url = f"http://127.0.0.1:{port}"
            uploads = mixed_uploads(int(a.image_mb * (1 << 20)))
            run_load(url, uploads, requests=4 * a.concurrency, concurrency=a.concurrency)
            start = rss_kb(proc.pid)
            s = run_load(url, uploads, requests=a.requests, concurrency=a.concurrency,
                         pid=proc.pid)
            time.sleep(2)
            end = rss_kb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    growth = end / start - 1
    print(f"{s['requests']} requests, {s['concurrency']} concurrent, {s['wall_s']:.1f} s")
    print(f"statuses: {s['statuses']}; 5xx: {s['server_errors']}; unexpected: {len(s['wrong'])}")
    for w in s["wrong"][:10]:
        print("  unexpected:", w)
    print(f"latency p50 {s['p50_s'] * 1000:.0f} ms, p95 {s['p95_s'] * 1000:.0f} ms")
    print(f"server RSS: start {start / 1024:.0f} MB, peak {s['peak_rss_kb'] / 1024:.0f} MB, "
          f"end {end / 1024:.0f} MB ({growth:+.1%} vs start)")
    ok = s["server_errors"] == 0 and not s["wrong"] and growth <= 0.20
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
