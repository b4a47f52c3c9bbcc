"""The upload page in a real browser: Playwright for Python driving Debian's Chromium.

The server runs in a thread (uvicorn) on a free loopback port. Screenshots are written to
``$FAKESCOPE_SCREENSHOTS`` when set (docs/ takes one from there), else to pytest's tmp folder.
"""

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.serve.conftest import make_settings, png_bytes, video_bytes

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium "
                                 "(apt-get install chromium; .ci/run installs it)")]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_in_thread(settings):
    import uvicorn

    from fakescope.serve.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, background_load=False),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(600):
        if server.started:
            break
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def site(toy_best, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("page")
    server, thread, url = serve_in_thread(make_settings([toy_best, toy_best], tmp / "data"))
    yield url, tmp
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def shots_dir(tmp) -> Path:
    d = Path(os.environ.get("FAKESCOPE_SCREENSHOTS") or tmp / "screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_image_upload_shows_one_card_per_detector(site, browser):
    url, tmp = site
    photo = tmp / "portrait.png"
    photo.write_bytes(png_bytes((160, 120), seed=7))
    page = browser.new_page(viewport=DESKTOP)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector(".model h3")
    assert page.locator(".model h3").all_inner_texts() == ["tiny", "tiny-2"]
    page.set_input_files("#file", str(photo))
    page.wait_for_selector(".result .card .pf", timeout=30000)
    cards = page.locator(".result .card")
    assert cards.count() == 2
    for i in range(2):
        text = cards.nth(i).inner_text()
        assert "%" in text and ("evidence" in text.lower() or "uncertain" in text.lower())
    assert page.locator(".result .maps img").count() == 4  # two overlays per detector
    badge = page.locator(".result .verdict .badge").inner_text()
    assert badge in ("Little evidence", "Uncertain", "Substantial evidence")
    assert page.locator(".result .name").inner_text() == "portrait.png"
    page.screenshot(path=str(shots_dir(tmp) / "page-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(shots_dir(tmp) / "page-phone.png"), full_page=True)
    page.reload()  # the visit's results stay listed
    page.wait_for_selector(".result .card")
    assert page.locator(".result").count() == 1
    with page.expect_download() as dl:
        page.click("#export-json")
    exported = Path(dl.value.path()).read_text()
    assert '"portrait.png"' in exported and '"band"' in exported
    assert not errors


def test_video_job_shows_progress_then_a_timeline(site, browser):
    url, tmp = site
    clip = tmp / "clip.mp4"
    clip.write_bytes(video_bytes(tmp, frames=12, size=48))
    page = browser.new_page(viewport=DESKTOP)
    page.goto(url)
    page.set_input_files("#file", str(clip))
    page.wait_for_selector(".result .timeline svg polyline", timeout=60000)
    assert page.locator(".result .timeline polyline").count() == 2
    assert page.locator(".result .card").count() == 2
    assert page.locator(".result .job").is_hidden()
    page.screenshot(path=str(shots_dir(tmp) / "page-video-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(shots_dir(tmp) / "page-video-phone.png"), full_page=True)


def test_keyboard_reaches_the_controls_and_bad_files_are_explained(site, browser):
    url, tmp = site
    page = browser.new_page(viewport=PHONE)
    page.goto(url)
    page.wait_for_load_state("networkidle")  # the script has run before the keys are pressed
    page.keyboard.press("Tab")  # skip link first
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "pick"
    with page.expect_file_chooser() as fc:
        page.keyboard.press("Enter")  # the chooser opens from the keyboard
    bad = tmp / "notes.png"
    bad.write_bytes(b"plain text that only pretends to be a PNG image")
    fc.value.set_files(str(bad))
    page.wait_for_selector(".result .error:not([hidden])")
    assert "415" in page.locator(".result .error").inner_text()
    assert "notes.png" in page.locator("#status").inner_text()
