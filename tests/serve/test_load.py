"""The bounded loopback load test (benchmarks/serve_load.py) against a server process."""

import tempfile

import pytest

from benchmarks.serve_load import free_port, mixed_uploads, rss_kb, run_load, start_server

pytestmark = pytest.mark.slow


def test_300_mixed_requests_8_concurrent_no_5xx_and_memory_back(toy_best):
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start_server([str(toy_best), str(toy_best)], port=port, data_dir=tmp,
                            extra=["--image-mb", "1", "--faces", "none", "--samples", "4"])
        try:
            url = f"http://127.0.0.1:{port}"
            uploads = mixed_uploads(1 << 20)
            run_load(url, uploads, requests=32, concurrency=8)  # warm-up
            start = rss_kb(proc.pid)
            s = run_load(url, uploads, requests=300, concurrency=8, pid=proc.pid)
            import time

            time.sleep(2)
            end = rss_kb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert s["server_errors"] == 0 and s["wrong"] == []
    assert set(s["statuses"]) == {200, 413, 415, 422}
    assert end <= 1.2 * start
