"""The HTTP API over two tiny detectors: answers, health, cards, limits and refusals."""

import pytest

from fakescope.serve.limits import MB, Limits
from tests._dummies.media import png_header_only
from tests.serve.conftest import png_bytes


def post_images(client, *files, maps=False, headers=None):
    return client.post(f"/detect?maps={str(maps).lower()}", headers=headers or {},
                       files=[("files", (n, d, "application/octet-stream")) for n, d in files])


def test_health_models_limits_metrics(client):
    assert client.get("/livez").json() == {"status": "alive"}
    assert client.get("/readyz").json()["models"] == ["tiny", "tiny-2"]
    cards = client.get("/models").json()["models"]
    assert [c["key"] for c in cards] == ["tiny", "tiny-2"]
    c = cards[0]
    assert c["architecture"]["image_size"] == 32 and len(c["version"]["weights_sha256"]) == 12
    assert c["training_data"]["recorded_in"] == "checkpoint"
    assert "square" in c["training_data"]["sources_seen"]
    assert c["known_blind_spots"] and c["uncertainty"]["method"] == "mc_head"
    assert client.get("/limits").json()["image_bytes"] == Limits().image_bytes
    assert client.get("/docs").status_code == 200
    assert "/detect" in client.get("/openapi.json").json()["paths"]
    text = client.get("/metrics").text
    assert 'fakescope_http_requests_total{route="/models",status="200"} 1' in text


def test_readyz_is_503_until_models_load(toy_best, tmp_path):
    from fastapi.testclient import TestClient

    from fakescope.serve.app import create_app
    from tests.serve.conftest import make_settings

    app = create_app(make_settings([toy_best], tmp_path / "d"), background_load=True)
    with TestClient(app) as c:
        svc = app.state.service
        first = c.get("/readyz")
        assert first.status_code in (200, 503)
        if first.status_code == 503:
            assert first.headers["Retry-After"] == "5"
        svc._ready.wait(30)
        assert c.get("/readyz").status_code == 200
        svc._ready.clear()  # as while loading
        r = post_images(c, ("a.png", png_bytes()))
        assert r.status_code == 503 and "loading" in r.json()["detail"]["message"]
        svc._ready.set()


def test_detect_answers_like_detect_json_for_every_detector(client, toy_best, tmp_path):
    from fakescope.detect import detect_images

    data = png_bytes((40, 36), seed=4)
    r = post_images(client, ("dir/../photo one.png", data), ("second.png", png_bytes(seed=5)))
    assert r.status_code == 200
    body = r.json()
    assert len(body["request_id"]) == 32 and r.headers["X-Request-ID"] == body["request_id"]
    assert [m["key"] for m in body["models"]] == ["tiny", "tiny-2"]
    first = body["files"][0]
    assert first["name"] == "photo one.png" and (first["width"], first["height"]) == (40, 36)
    (tmp_path / "photo.png").write_bytes(data)
    cli = detect_images([tmp_path / "photo.png"], toy_best, uncertainty="mc_head", samples=4,
                        faces="none")[0]
    for key in ("tiny", "tiny-2"):
        e = first["detectors"][key]
        assert set(cli) <= set(e) and e["faces"][0]["box"] == cli["faces"][0]["box"]
        # MC head masks are drawn for the whole batch: within the passes' spread, not equal
        assert abs(e["p_fake"] - cli["p_fake"]) <= 3 * cli["uncertainty"]["variance"] ** 0.5
        assert set(e["uncertainty"]) == set(cli["uncertainty"])
        assert e["path"] == "photo one.png" and e["input"] == cli["input"]
        assert e["band"] in ("little", "uncertain", "substantial") and e["explanation"]
        assert e["version"] and e["p_fake_range"][0] <= e["p_fake"] <= e["p_fake_range"][1]
    v = first["verdict"]
    assert v["band"] in ("little", "uncertain", "substantial") and v["summary"]
    assert set(v["bands"]) == {"tiny", "tiny-2"} and v["disagreement"] < 0.2


def test_maps_are_data_urls_and_corrupt_images_are_422(client):
    r = post_images(client, ("a.png", png_bytes((40, 40))), maps=True)
    e = r.json()["files"][0]["detectors"]["tiny"]
    assert e["maps"]["saliency"].startswith("data:image/png;base64,")
    assert e["maps"]["uncertainty"].startswith("data:image/png;base64,")
    data = png_bytes((64, 64), seed=2)
    r = post_images(client, ("half.png", data[: len(data) // 2]))
    assert r.status_code == 422 and "half.png" in r.json()["detail"]["message"]


def test_no_face_is_an_abstention_and_the_verdict_uncertain(make_client):
    c = make_client(faces="hog")
    r = post_images(c, ("noise.png", png_bytes((64, 64))))
    assert r.status_code == 200
    f = r.json()["files"][0]
    e = f["detectors"]["tiny"]
    assert e["reason"] == "no_face" and e["band"] == "uncertain" and "abstained" in \
        e["explanation"]
    assert f["verdict"]["band"] == "uncertain" and "abstained" in f["verdict"]["summary"]


@pytest.mark.parametrize("name,data,status,limit", [
    ("notes.png", b"this is plain text, whatever its name says", 415, None),
    ("clip.png", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 40, 415, None),
    ("bomb.png", png_header_only(9000, 9000), 422, "max_megapixels"),
    ("dot.png", png_bytes((1, 1)), 422, "min_side"),
    ("empty.png", b"", 415, None),
])
def test_bad_files_get_their_4xx_naming_the_file(client, name, data, status, limit):
    r = post_images(client, (name, data))
    assert r.status_code == status
    detail = r.json()["detail"]
    assert name in detail["message"] and detail.get("limit") == limit


def test_one_bad_file_refuses_the_request_naming_each(client):
    r = post_images(client, ("good.png", png_bytes()), ("bad.txt", b"plain text here, no image"))
    assert r.status_code == 415 and "bad.txt" in r.json()["detail"]["message"]


def test_413_before_the_body_is_stored(make_client):
    c = make_client(limits=Limits(image_bytes=2000, files_per_request=2))
    big = png_bytes((64, 64), seed=1)
    assert len(big) > 2000
    r = post_images(c, ("big.png", big))
    assert r.status_code == 413 and "big.png" in r.json()["detail"]["message"]
    # a declared length over the route's cap: refused from the header, the body never read
    r = c.post("/detect", content=b"x" * 10, headers={
        "Content-Length": str(Limits(image_bytes=2000, files_per_request=2).detect_body_bytes()
                              + 1), "Content-Type": "multipart/form-data; boundary=x"})
    assert r.status_code == 413
    # streamed without a length: cut off as soon as the count passes the cap
    def chunks():
        yield (b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n'
               b"Content-Type: image/png\r\n\r\n")
        for _ in range(5):
            yield b"y" * MB
    r = c.post("/detect", content=chunks(), headers={"Content-Type":
                                                     "multipart/form-data; boundary=x"})
    assert r.status_code == 413, r.text
    r = post_images(c, ("a.png", png_bytes()), ("b.png", png_bytes()), ("c.png", png_bytes()))
    assert r.status_code == 413 and r.json()["detail"]["limit"] == "files_per_request"


def test_api_key_and_cors(make_client, monkeypatch):
    c = make_client(api_key="s3cret")
    assert c.get("/livez").status_code == 200 and c.get("/").status_code == 200
    r = post_images(c, ("a.png", png_bytes()))
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    assert c.get("/models").status_code == 401 and c.get("/metrics").status_code == 401
    assert post_images(c, ("a.png", png_bytes()), headers={"X-API-Key": "wrong"}).status_code \
        == 401
    assert post_images(c, ("a.png", png_bytes()), headers={"X-API-Key": "s3cret"}).status_code \
        == 200
    assert c.get("/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    monkeypatch.setenv("FAKESCOPE_API_KEY", "from-env")
    c2 = make_client()
    assert c2.get("/limits").status_code == 401
    assert c2.get("/limits", headers={"X-API-Key": "from-env"}).status_code == 200
    monkeypatch.delenv("FAKESCOPE_API_KEY")
    origin = {"Origin": "https://elsewhere.example"}
    plain = make_client()
    assert "access-control-allow-origin" not in plain.get("/limits", headers=origin).headers
    cors = make_client(cors_origins=["https://elsewhere.example"])
    assert cors.get("/limits", headers=origin).headers["access-control-allow-origin"] == \
        "https://elsewhere.example"


def test_queue_full_is_503_with_retry_after_and_slow_scoring_is_504(make_client):
    c = make_client(limits=Limits(queued_images=1, request_seconds=0.5))
    svc = c.app.state.service
    with svc.compute_lock:  # the batcher cannot score: requests wait, then time out
        r = post_images(c, ("a.png", png_bytes()))
        assert r.status_code == 504 and r.json()["detail"]["limit"] == "request_seconds"
        from fakescope.serve.batching import Item

        # fill the one queue slot (the worker may hold one more)
        for _ in range(3):
            try:
                svc.batcher.submit(Item(data=b""))
            except Exception:
                break
        r = post_images(c, ("b.png", png_bytes()))
        assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1
    assert 'fakescope_rejected_uploads_total{status="503"} 1' in c.get("/metrics").text


def test_page_is_served_from_the_package_without_external_resources(client):
    html = client.get("/")
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert "default-src 'self'" in html.headers["Content-Security-Policy"]
    for asset in ("/static/app.js", "/static/style.css"):
        r = client.get(asset)
        text = r.text.replace("http://www.w3.org/2000/svg", "")  # a namespace name, not a URL
        assert r.status_code == 200 and "http://" not in text and "https://" not in text
    assert "https://" not in html.text and "http://" not in html.text
