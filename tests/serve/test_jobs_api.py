"""Jobs over HTTP: videos, progress and partial results, deletion, webhooks, restarts."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from tests.serve.conftest import png_bytes, video_bytes


def wait_done(client, url, timeout=60):
    seen = []
    t0 = time.time()
    while time.time() - t0 < timeout:
        j = client.get(url).json()
        seen.append(j)
        if j["state"] not in ("queued", "running"):
            return j, seen
        time.sleep(0.05)
    raise AssertionError(f"job not finished: {seen[-1]}")


def test_video_job_gives_each_detector_and_a_timeline(client, tmp_path):
    r = client.post("/jobs", files={"file": ("../my clip.mp4", video_bytes(tmp_path), "video/mp4")})
    assert r.status_code == 202
    url = r.headers["Location"]
    assert url == f"/jobs/{r.json()['id']}"
    job, seen = wait_done(client, url)
    assert job["state"] == "done" and job["progress"] == 1.0 and job["name"] == "my clip.mp4"
    res = job["result"]
    assert set(res["detectors"]) == {"tiny", "tiny-2"} and res["verdict"]["band"]
    e = res["detectors"]["tiny"]
    assert e["kind"] == "video" and e["n_frames_sampled"] == 6
    assert all(f["p_fake_range"][0] <= f["p_fake"] <= f["p_fake_range"][1] for f in e["frames"])
    assert [f["time"] for f in e["frames"]] == sorted(f["time"] for f in e["frames"])
    assert e["maps"]["saliency"].startswith("data:image/png;base64,")
    # uploads are named by job id only, and deleted once the job is done
    assert list((tmp_path / "data" / "uploads").iterdir()) == []
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404 and client.delete(url).status_code == 404


def test_partial_results_appear_detector_by_detector(client, tmp_path):
    svc = client.app.state.service
    store_update = svc.store.update
    partials = []

    def spy(job_id, **fields):
        if fields.get("result") and fields.get("stage", "").startswith("scoring"):
            partials.append(sorted(fields["result"]["detectors"]))
        return store_update(job_id, **fields)

    svc.store.update = spy
    r = client.post("/jobs", files={"file": ("c.mp4", video_bytes(tmp_path), "video/mp4")})
    wait_done(client, r.headers["Location"])
    assert partials == [["tiny"]]  # while tiny-2 runs, tiny's entry is already there


def test_corrupt_video_fails_with_a_clear_message_and_queue_limit(make_client, tmp_path):
    from fakescope.serve.limits import Limits

    c = make_client(limits=Limits(video_frames=6, queued_jobs=1))
    data = video_bytes(tmp_path)
    r = c.post("/jobs", files={"file": ("broken.mp4", data[:600], "video/mp4")})
    assert r.status_code == 202
    job, _ = wait_done(c, r.headers["Location"])
    assert job["state"] == "failed" and job["error"]["status"] == 422
    assert "broken.mp4" in job["error"]["message"]
    svc = c.app.state.service
    with svc.compute_lock:  # the first job cannot finish: the second is refused
        first = c.post("/jobs", files={"file": ("a.mp4", data, "video/mp4")})
        second = c.post("/jobs", files={"file": ("b.mp4", data, "video/mp4")})
    assert first.status_code == 202
    assert second.status_code == 503 and int(second.headers["Retry-After"]) > 0
    assert c.post("/jobs", files={"file": ("x.txt", b"plain text, not media at all")}
                  ).status_code == 415
    wait_done(c, first.headers["Location"])


def test_job_time_limit_is_504(make_client, tmp_path):
    from fakescope.serve.limits import Limits

    c = make_client(limits=Limits(video_frames=6, job_seconds=0.0))
    r = c.post("/jobs", files={"file": ("c.mp4", video_bytes(tmp_path), "video/mp4")})
    job, _ = wait_done(c, r.headers["Location"])
    assert job["state"] == "failed" and job["error"]["status"] == 504


def test_image_job_and_signed_webhook(make_client):
    got = {}

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.update(body=body, sig=self.headers["X-Fakescope-Signature"],
                       ts=self.headers["X-Fakescope-Timestamp"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        c = make_client(webhook_secret="hush")
        hook = f"http://127.0.0.1:{server.server_port}/done"
        r = c.post("/jobs", files={"file": ("p.png", png_bytes())}, data={"webhook": hook})
        job, _ = wait_done(c, r.headers["Location"])
        assert job["state"] == "done" and job["kind"] == "image"
        for _ in range(100):
            if got:
                break
            time.sleep(0.05)
        payload = json.loads(got["body"])
        assert payload["id"] == job["id"] and payload["state"] == "done"
        want = hmac.new(b"hush", got["ts"].encode() + b"." + got["body"], hashlib.sha256)
        assert got["sig"] == "sha256=" + want.hexdigest()
    finally:
        server.shutdown()
        server.server_close()
    off = make_client()
    r = off.post("/jobs", files={"file": ("p.png", png_bytes())}, data={"webhook": hook})
    assert r.status_code == 422 and "webhook" in r.json()["detail"]["message"]


def test_restart_keeps_finished_results_and_reports_interrupted(make_client, tmp_path):
    data_dir = tmp_path / "shared"
    c = make_client(data_dir=data_dir)
    r = c.post("/jobs", files={"file": ("p.png", png_bytes())})
    done, _ = wait_done(c, r.headers["Location"])
    svc = c.app.state.service
    stuck = svc.store.create(kind="video", name="v.mp4")
    svc.store.update(stuck, state="running")
    make_client.close(c)  # the server stops
    c2 = make_client(data_dir=data_dir)
    again = c2.get(f"/jobs/{done['id']}").json()
    assert again["state"] == "done" and again["result"] == done["result"]
    lost = c2.get(f"/jobs/{stuck}").json()
    assert lost["state"] == "interrupted" and "submit" in lost["error"]["message"]
