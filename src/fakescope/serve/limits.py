"""What the service accepts: the limits table, content sniffing and the image intake.

Every refusal is an :class:`IntakeError` carrying the HTTP status a client gets:

======================  =========  ==========================================================
check                   status     when
======================  =========  ==========================================================
request body too large  413        ``Content-Length`` (or the bytes streamed so far) over the
                                   route's cap: answered before the body is stored
one file too large      413        an image over ``image_bytes`` / a video over ``video_bytes``
too many files          413        more than ``files_per_request`` parts in ``POST /detect``
not media               415        the first bytes are no image or video signature (the name
                                   and declared type are ignored)
bomb / absurd size      422        header pixels over ``max_megapixels`` (read before decoding),
                                   a side under ``min_side`` or over ``max_side``, a video
                                   longer than ``video_seconds``
queue full              503        more than ``queued_images`` images waiting for a batch, or
                                   ``queued_jobs`` jobs queued or running (with Retry-After)
time limit              504        ``/detect`` over ``request_seconds``; a job over
                                   ``job_seconds`` fails with status 504 in its record
======================  =========  ==========================================================
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import asdict, dataclass

MB = 1 << 20


class IntakeError(Exception):
    """A request or file the service refuses: ``status`` (4xx/5xx) and a one-line ``message``."""

    def __init__(self, status: int, message: str, *, limit: str | None = None,
                 retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.limit = limit
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limits:
    """The published limits (``GET /limits``); every field is a ``fakescope serve`` option."""

    image_bytes: int = 20 * MB
    video_bytes: int = 200 * MB
    files_per_request: int = 16
    max_megapixels: float = 40.0
    min_side: int = 16
    max_side: int = 20_000
    video_seconds: float = 600.0
    video_frames: int = 32
    queued_images: int = 256
    queued_jobs: int = 16
    request_seconds: float = 60.0
    job_seconds: float = 900.0

    def detect_body_bytes(self) -> int:
        """Cap on a whole ``POST /detect`` body: every image at its limit plus multipart framing."""
        return self.files_per_request * self.image_bytes + MB

    def jobs_body_bytes(self) -> int:
        return self.video_bytes + MB

    def table(self) -> dict:
        """The limits as JSON, with units in the names' descriptions."""
        return {**asdict(self), "detect_body_bytes": self.detect_body_bytes(),
                "jobs_body_bytes": self.jobs_body_bytes()}


# (offset, signature, kind, format)
_SIGNATURES = (
    (0, b"\xff\xd8\xff", "image", "jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image", "png"),
    (0, b"BM", "image", "bmp"),
    (0, b"II*\x00", "image", "tiff"),
    (0, b"MM\x00*", "image", "tiff"),
    (0, b"\x1aE\xdf\xa3", "video", "matroska/webm"),
    (4, b"ftyp", "video", "mp4/mov"),
)


def sniff(head: bytes) -> tuple[str, str] | None:
    """``(kind, format)`` of a file from its first bytes (>= 16), or None when it is no image or
    video this service reads. Names and declared content types are never trusted."""
    for offset, sig, kind, fmt in _SIGNATURES:
        if head[offset:offset + len(sig)] == sig:
            if fmt == "bmp" and len(head) < 26:
                return None
            return kind, fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", "avi"
    if len(head) >= 3 and head[:1] == b"P" and head[1:2] in b"123456" and head[2:3].isspace():
        return "image", "pnm"
    return None


def check_size(kind: str, n_bytes: int, limits: Limits, name: str) -> None:
    cap = limits.image_bytes if kind == "image" else limits.video_bytes
    if n_bytes > cap:
        raise IntakeError(413, f"{name}: {kind} of {n_bytes / MB:.1f} MB is over the "
                          f"{cap / MB:.0f} MB limit", limit=f"{kind}_bytes")
    if n_bytes == 0:
        raise IntakeError(415, f"{name}: empty file (0 bytes)")


def check_image_header(data: bytes, limits: Limits, name: str) -> tuple[int, int]:
    """``(width, height)`` of an uploaded image from its header alone; nothing is decoded.

    Not an image by its bytes -> 415; over ``max_megapixels``, a side under ``min_side`` or over
    ``max_side`` -> 422 naming the limit, so a decompression bomb costs nothing. Decoding
    (EXIF orientation, 16-bit, CMYK, alpha; truncated data) is the detect session's intake.
    """
    from PIL import Image, UnidentifiedImageError

    kind = sniff(data[:32])
    if kind is None or kind[0] != "image":
        raise IntakeError(415, f"{name}: not an image by its content "
                          "(accepted: JPEG, PNG, BMP, TIFF, WebP, PPM/PGM)")
    try:
        with warnings.catch_warnings():  # our own pixel limit below decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError,
            ValueError) as exc:
        if isinstance(exc, Image.DecompressionBombError):  # PIL's own cap, 2 x 89.5 MP
            found = re.search(r"\((\d+) pixels\)", str(exc))
            size = f"{int(found.group(1)) / 1e6:.0f} megapixels" if found else "too large"
            raise IntakeError(422, f"{name}: image is {size}; the limit is "
                              f"{limits.max_megapixels:g} megapixels",
                              limit="max_megapixels") from exc
        raise IntakeError(422, f"{name}: unreadable image header ({exc})") from exc
    mp = w * h / 1e6
    if mp > limits.max_megapixels:
        raise IntakeError(422, f"{name}: image is {w} x {h} = {mp:.1f} megapixels; the limit "
                          f"is {limits.max_megapixels:g}", limit="max_megapixels")
    if min(w, h) < limits.min_side:
        raise IntakeError(422, f"{name}: image is {w} x {h} px; the smallest side accepted is "
                          f"{limits.min_side} px", limit="min_side")
    if max(w, h) > limits.max_side:
        raise IntakeError(422, f"{name}: image is {w} x {h} px; the largest side accepted is "
                          f"{limits.max_side} px", limit="max_side")
    return w, h
