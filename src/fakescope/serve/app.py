"""The FastAPI app: routes over a :class:`~fakescope.serve.service.Service`.

=========================  ==================================================================
``GET /``                  the upload page (``static/``, shipped in the package, no CDN)
``GET /livez``             200 while the process runs
``GET /readyz``            200 once every model is loaded, else 503
``GET /metrics``           Prometheus text (:mod:`fakescope.serve.metrics`)
``GET /models``            a model card per detector (:mod:`fakescope.serve.cards`)
``GET /limits``            the limits table (:mod:`fakescope.serve.limits`)
``POST /detect``           multipart ``files`` (images): every detector per file, at once
``POST /jobs``             multipart ``file`` (a video or an image): 202 + ``Location``
``GET /jobs/{id}``         state, progress, partial then full result
``DELETE /jobs/{id}``      cancel and delete (204)
``GET /docs``              OpenAPI documentation
=========================  ==================================================================

With an API key set, every route but ``/``, ``/static``, ``/livez``, ``/readyz`` and the API
documentation needs it (``X-API-Key: KEY`` or ``Authorization: Bearer KEY``; else 401).
CORS is off unless origins are configured.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import unicodedata
import uuid
from contextlib import asynccontextmanager
from importlib.resources import files as package_files

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from fakescope import __version__
from fakescope.serve.body_limit import BodyLimit
from fakescope.serve.limits import IntakeError, check_size, sniff
from fakescope.serve.service import Service
from fakescope.serve.settings import ServeSettings

STATIC = package_files("fakescope.serve") / "static"
OPEN_PATHS = ("/", "/livez", "/readyz", "/docs", "/openapi.json", "/docs/oauth2-redirect",
              "/favicon.ico")
PAGE_CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
            "style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; "
            "base-uri 'none'; frame-ancestors 'none'")
CHUNK = 1 << 20


def display_name(filename: str | None) -> str:
    """An uploaded file's name as a display string: the last path part, control characters
    removed, at most 120 characters. Never used to name anything on disk."""
    name = (filename or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return name[:120] or "upload"


def _error(status: int, message: str, *, limit: str | None = None,
           retry_after: int | None = None, request_id: str | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    detail = {"message": message, **({"limit": limit} if limit else {})}
    body = {"detail": detail, **({"request_id": request_id} if request_id else {})}
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(settings: ServeSettings, *, background_load: bool = True) -> FastAPI:
    """The app; the models load when it starts (in the background unless told otherwise)."""
    service = Service(settings)
    lim = settings.limits

    @asynccontextmanager
    async def lifespan(app):
        service.start(background=background_load)
        try:
            yield
        finally:
            await run_in_threadpool(service.close)

    app = FastAPI(title="fakescope", version=__version__, lifespan=lifespan,
                  description="Deepfake detection with uncertainty: every loaded detector "
                  "side by side, with how sure it is. Limits: `GET /limits`.")
    app.state.service = service

    def require_key(request: Request) -> None:
        key = settings.api_key
        if not key:
            return
        given = request.headers.get("x-api-key") or ""
        auth = request.headers.get("authorization") or ""
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not hmac.compare_digest(given.encode(), key.encode()):
            raise IntakeError(401, "missing or wrong API key (send X-API-Key or "
                              "Authorization: Bearer)")

    guarded = [Depends(require_key)]

    @app.exception_handler(IntakeError)
    async def _intake(request: Request, exc: IntakeError):
        if exc.status not in (401, 404):
            service.metrics.rejected.inc(status=str(exc.status))
        resp = _error(exc.status, exc.message, limit=exc.limit, retry_after=exc.retry_after,
                      request_id=getattr(request.state, "request_id", None))
        if exc.status == 401:
            resp.headers["WWW-Authenticate"] = "Bearer"
        return resp

    def caps(path: str) -> int | None:
        if path == "/detect":
            return lim.detect_body_bytes()
        if path == "/jobs":
            return lim.jobs_body_bytes()
        return 64 * 1024

    # inside _observe (added before it): its 413 is raised straight into the route's body
    # parsing, which re-raises HTTP errors, rather than through a middleware's task group
    app.add_middleware(BodyLimit, caps=caps)

    @app.middleware("http")
    async def _observe(request: Request, call_next):
        request.state.request_id = uuid.uuid4().hex
        t0 = time.perf_counter()
        resp = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        service.metrics.requests.inc(route=path, status=str(resp.status_code))
        service.metrics.request_seconds.observe(time.perf_counter() - t0, route=path)
        resp.headers["X-Request-ID"] = request.state.request_id
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        if not request.url.path.startswith("/docs"):
            resp.headers["Content-Security-Policy"] = PAGE_CSP
        return resp

    # ---------------------------------------------------------------- page and health

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/livez", tags=["health"])
    async def livez():
        return {"status": "alive"}

    @app.get("/readyz", tags=["health"])
    async def readyz():
        if service.ready:
            return {"status": "ready", "models": [d.key for d in service.detectors]}
        return _error(503, service.load_error or "loading models", retry_after=5)

    @app.get("/metrics", tags=["health"], dependencies=guarded,
             response_class=PlainTextResponse)
    async def metrics():
        return PlainTextResponse(service.metrics.render(),
                                 media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/models", tags=["models"], dependencies=guarded)
    async def models():
        service.require_ready()
        return {"models": [d.card for d in service.detectors]}

    @app.get("/limits", tags=["models"], dependencies=guarded)
    async def limits():
        return lim.table()

    # ---------------------------------------------------------------- images

    @app.post("/detect", tags=["detect"], dependencies=guarded)
    async def detect(request: Request, files: list[UploadFile] = File(..., description=
                     "One or more images (JPEG, PNG, BMP, TIFF, WebP, PPM)."),
                     maps: bool = Query(False, description="Add overlay maps (slower).")):
        """Score images with every loaded detector; one entry per file, detectors side by
        side, each with its band, and the overall verdict."""
        service.require_ready()
        if len(files) > lim.files_per_request:
            raise IntakeError(413, f"{len(files)} files in one request; the limit is "
                              f"{lim.files_per_request}", limit="files_per_request")
        uploads, problems = [], []
        for f in files:
            name = display_name(f.filename)
            data = await f.read(lim.image_bytes + 1)
            await f.close()
            kind = (sniff(data[:32]) or ("", ""))[0]
            try:
                if kind == "video":
                    raise IntakeError(415, f"{name}: a video; videos are scored as jobs "
                                      "(POST /jobs)")
                if kind != "image":
                    raise IntakeError(415, f"{name}: not an image by its content (accepted: "
                                      "JPEG, PNG, BMP, TIFF, WebP, PPM/PGM)")
                check_size("image", len(data), lim, name)
                uploads.append((name, data, await run_in_threadpool(
                    service.prepare_image, data, name, maps=maps)))
            except IntakeError as exc:
                problems.append(exc)
        if problems:
            first = problems[0]
            raise IntakeError(first.status, "; ".join(p.message for p in problems),
                              limit=first.limit)
        futures = []
        try:
            for _, _, item in uploads:
                futures.append(service.batcher.submit(item))
        except IntakeError:
            for fut in futures:
                fut.cancel()
            raise
        try:
            found = await asyncio.wait_for(
                asyncio.gather(*(asyncio.wrap_future(f) for f in futures)),
                timeout=lim.request_seconds)
        except asyncio.TimeoutError:
            for fut in futures:
                fut.cancel()
            raise IntakeError(504, f"scoring took longer than {lim.request_seconds:g} s",
                              limit="request_seconds") from None
        answers, problems = [], []
        for (name, data, _), r in zip(uploads, found, strict=True):
            try:
                answers.append(service.image_answer(name, r, data))
            except IntakeError as exc:
                problems.append(exc)
        if problems:
            raise IntakeError(422, "; ".join(p.message for p in problems))
        return {"request_id": request.state.request_id,
                "models": [{"key": d.key, "name": d.name, "version": d.version}
                           for d in service.detectors],
                "files": answers}

    # ---------------------------------------------------------------- jobs

    @app.post("/jobs", tags=["jobs"], status_code=202, dependencies=guarded)
    async def create_job(request: Request,
                         file: UploadFile = File(..., description="A video or an image."),
                         webhook: str | None = Form(None, description="URL to POST a signed "
                                                    "notice to when the job finishes."),
                         maps: bool = Form(True, description="Draw overlay maps.")):
        """Queue a video (or image) for scoring; poll the ``Location`` it answers with."""
        service.require_ready()
        name = display_name(file.filename)
        head = await file.read(32)
        kind = (sniff(head) or ("", ""))[0]
        if kind not in ("image", "video"):
            raise IntakeError(415, f"{name}: not an image or a video by its content")
        if webhook:
            if not settings.webhook_secret:
                raise IntakeError(422, "webhooks are off on this server (start it with "
                                  "--webhook-secret)", limit="webhook")
            if not webhook.startswith(("http://", "https://")) or len(webhook) > 2000:
                raise IntakeError(422, "webhook must be an http(s) URL", limit="webhook")
        if service.store.count() >= lim.queued_jobs:
            raise IntakeError(503, f"{lim.queued_jobs} jobs are already queued or running",
                              limit="queued_jobs", retry_after=30)
        job_id = service.store.create(kind=kind, name=name,
                                      options={"webhook": webhook, "maps": maps})
        path = service.store.upload_path(job_id)
        try:
            size = await run_in_threadpool(_store_upload, file, head, path, lim, kind, name)
            if kind == "video":
                await run_in_threadpool(_check_video_header, path, lim, name)
        except BaseException:
            service.store.delete(job_id)
            raise
        finally:
            await file.close()
        service.runner.enqueue(job_id)
        return JSONResponse({"id": job_id, "state": "queued", "kind": kind, "bytes": size,
                             "url": f"/jobs/{job_id}"}, status_code=202,
                            headers={"Location": f"/jobs/{job_id}"})

    @app.get("/jobs/{job_id}", tags=["jobs"], dependencies=guarded)
    async def get_job(job_id: str):
        job = service.store.get(job_id) if _is_id(job_id) else None
        if job is None:
            raise IntakeError(404, "no such job (finished jobs are deleted after the "
                              "retention period)")
        return service.store.public(job)

    @app.delete("/jobs/{job_id}", tags=["jobs"], status_code=204, dependencies=guarded)
    async def delete_job(job_id: str):
        if not (_is_id(job_id) and service.store.delete(job_id)):
            raise IntakeError(404, "no such job")
        return Response(status_code=204)

    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["X-API-Key", "Authorization", "Content-Type"],
                           expose_headers=["Location", "Retry-After", "X-Request-ID"])
    return app


def _is_id(job_id: str) -> bool:
    return len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)


def _store_upload(file: UploadFile, head: bytes, path, lim, kind: str, name: str) -> int:
    """Copy an upload to ``path`` (named by the job id) in chunks, refusing it (413) as soon
    as it passes its kind's size limit."""
    cap = lim.video_bytes if kind == "video" else lim.image_bytes
    size = len(head)
    with open(path, "wb") as out:
        out.write(head)
        while chunk := file.file.read(CHUNK):
            size += len(chunk)
            if size > cap:
                break
            out.write(chunk)
    check_size(kind, size, lim, name)
    return size


def _check_video_header(path, lim, name: str) -> None:
    """Refuse (422) a video whose header gives absurd dimensions or a length over the limit;
    an unreadable header is left to the job, which fails with the reason."""
    from fakescope.data.video import probe_video
    from fakescope.errors import DataError

    try:
        info = probe_video(path)
    except DataError:
        return
    if info.width * info.height > lim.max_megapixels * 1e6 or max(info.width, info.height) > \
            lim.max_side:
        raise IntakeError(422, f"{name}: video frames are {info.width} x {info.height} px, "
                          "over the limits", limit="max_megapixels")
    if info.fps > 0 and info.frame_count / info.fps > lim.video_seconds:
        raise IntakeError(422, f"{name}: video is {info.frame_count / info.fps:.0f} s long; "
                          f"the limit is {lim.video_seconds:g} s", limit="video_seconds")
