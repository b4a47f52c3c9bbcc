"""Request-body caps enforced before the body is stored (pure ASGI middleware).

A request whose ``Content-Length`` is over its route's cap is answered 413 without reading a
byte of the body; a body sent without a length (chunked) is counted as it streams and the
request fails with 413 as soon as the count passes the cap, so at most ``cap`` bytes are ever
buffered or spooled.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.exceptions import HTTPException


class BodyTooLarge(HTTPException):
    def __init__(self, cap: int):
        super().__init__(413, {"message": f"request body is over the {cap / (1 << 20):.0f} MB "
                                          "limit for this route", "limit": "body_bytes"})
        self.cap = cap


class BodyLimit:
    """``caps(path) -> int | None`` gives the byte cap of a route (None = no cap)."""

    def __init__(self, app, caps: Callable[[str], int | None]):
        self.app = app
        self.caps = caps

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        cap = self.caps(scope.get("path", ""))
        if cap is None:
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                return await _reply(send, 400, {"message": "bad Content-Length"})
            if n > cap:
                return await _reply(send, 413, BodyTooLarge(cap).detail, close=True)
        seen = 0
        started = False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise BodyTooLarge(cap)
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:  # raised outside FastAPI's handlers (e.g. in a middleware)
            if not started:
                await _reply(send, 413, exc.detail, close=True)


async def _reply(send, status: int, detail, *, close: bool = False) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
