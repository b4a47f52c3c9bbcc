"""Image files: load with a clear error, check limits before decoding, list a folder, save.

Arrays are RGB ``uint8`` of shape ``(H, W, 3)``.

Two readers share one decoder:

- :func:`load_image` (training, datasets, tools): path -> pixels, DataError when the file is
  missing, empty, truncated or not an image.
- :func:`read_image` (intake of ``fakescope detect`` and the service): a path or in-memory bytes
  -> :class:`DecodedImage` (pixels + what the file was + what was done to it), refusing before
  any pixel is decoded an image over :attr:`ImageLimits.max_megapixels` (the size is read from
  the file header with Pillow) and, after decoding, one whose shorter side is under
  :attr:`ImageLimits.min_side`. Refusals are :class:`IntakeError` with a ``reason`` code.

Decoding: OpenCV first (``IMREAD_COLOR``: EXIF orientation applied for JPEG, PNG, WebP and
TIFF; 16-bit samples scaled to 8 bits; alpha dropped; grayscale and CMYK converted to RGB),
Pillow for what OpenCV does not read (GIF/ICO/TGA/PCX/PSD..., EXIF orientation applied with
``ImageOps.exif_transpose``; first frame of an animation). Every suffix either library
registers is accepted (:data:`READABLE_IMAGE_SUFFIXES`); :data:`IMAGE_SUFFIXES` is the short
list dataset layouts look for.
"""

from __future__ import annotations

import io
import struct
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fakescope.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
#: What OpenCV's imread reads (its documented list) besides :data:`IMAGE_SUFFIXES`.
OPENCV_SUFFIXES = (".jpe", ".jp2", ".pbm", ".pgm", ".ppm", ".pxm", ".pnm", ".pfm", ".sr",
                   ".ras", ".exr", ".hdr", ".pic", ".avif", ".gif")
#: Document and container formats Pillow registers but that are not photographs.
_NOT_PHOTOS = (".pdf", ".eps", ".ps", ".h5", ".hdf", ".bufr", ".grib", ".mpeg", ".mpg", ".wmf",
               ".emf", ".fit", ".fits")
#: Size of the 8-bit-per-sample RGB raster the header-only check guards: megapixels.
DEFAULT_MAX_MEGAPIXELS = 50.0
DEFAULT_MIN_SIDE = 16
EXIF_ORIENTATION = 0x0112


def _pillow_suffixes() -> tuple[str, ...]:
    from PIL import Image

    return tuple(s for s in Image.registered_extensions() if s not in _NOT_PHOTOS)


READABLE_IMAGE_SUFFIXES = tuple(sorted(set(IMAGE_SUFFIXES + OPENCV_SUFFIXES + _pillow_suffixes())))


class IntakeError(DataError):
    """An image refused at intake; ``reason`` is a short code: ``not_found``, ``empty``,
    ``truncated``, ``unreadable``, ``too_large``, ``too_small``."""

    def __init__(self, message: str, *, reason: str, path=None, hint: str | None = None):
        super().__init__(message, path=path, hint=hint)
        self.reason = reason


@dataclass(frozen=True)
class ImageLimits:
    """What intake accepts: at most ``max_megapixels`` (width x height / 1e6, from the header,
    before decoding; None = no limit) and a shorter side of at least ``min_side`` pixels."""

    max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS
    min_side: int = DEFAULT_MIN_SIDE


@dataclass
class DecodedImage:
    """An image as intake decoded it: ``pixels`` RGB uint8 ``(H, W, 3)`` (EXIF orientation
    applied), the file's ``format`` and ``mode`` as Pillow names them (``""`` when only OpenCV
    reads it), and ``notes`` on what was converted (``"16-bit samples scaled to 8 bits"``...)."""

    pixels: np.ndarray
    format: str = ""
    mode: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def describe(self) -> dict:
        """``{"width", "height", "format", "mode", "notes"}`` (JSON-able)."""
        return {"width": self.width, "height": self.height, "format": self.format,
                "mode": self.mode, "notes": list(self.notes)}


def _truncated_jpeg(data: bytes) -> bool:
    # A complete JPEG ends with the EOI marker (FF D9); decoders silently fill missing rows.
    return data[:2] == b"\xff\xd8" and data.rstrip(b"\x00")[-2:] != b"\xff\xd9"


def _truncated_png(data: bytes) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in data[-16:]


def image_header(data: bytes) -> dict | None:
    """What Pillow reads from the header alone (no pixel is decoded): ``{"format", "mode",
    "width", "height", "orientation", "frames"}``; None when Pillow does not know the format.

    ``width``/``height`` are as stored (before EXIF orientation); Pillow's own decompression-
    bomb guard is off here, the caller compares the size with its limit.
    """
    from PIL import UnidentifiedImageError

    try:
        with _pillow_open(data) as im:
            try:
                orientation = int(im.getexif().get(EXIF_ORIENTATION, 1) or 1)
            except Exception:  # noqa: BLE001 - a broken EXIF block is not a broken image
                orientation = 1
            return {"format": im.format or "", "mode": im.mode, "width": int(im.width),
                    "height": int(im.height), "orientation": orientation,
                    "frames": int(getattr(im, "n_frames", 1) or 1)}
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error):
        return None


@contextmanager
def _pillow_open(data: bytes):
    """``Image.open`` of ``data`` with Pillow's decompression-bomb guard off and its warnings
    silenced (the callers compare the size with their own limit); the guard is restored."""
    from PIL import Image

    old = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                yield im
    finally:
        Image.MAX_IMAGE_PIXELS = old


_MODE_NOTES = {"I;16": "16-bit samples scaled to 8 bits", "I;16B": "16-bit samples scaled to 8 bits",
               "I;16L": "16-bit samples scaled to 8 bits", "I": "32-bit samples scaled to 8 bits",
               "F": "floating-point samples scaled to 8 bits", "L": "grayscale expanded to RGB",
               "1": "1-bit image expanded to RGB", "LA": "grayscale expanded to RGB; alpha dropped",
               "RGBA": "alpha channel dropped", "PA": "palette expanded; alpha dropped",
               "P": "palette expanded to RGB", "CMYK": "CMYK converted to RGB",
               "YCbCr": "YCbCr converted to RGB", "LAB": "Lab converted to RGB",
               "HSV": "HSV converted to RGB", "RGBX": "padding channel dropped"}


def _pillow_decode(data: bytes) -> np.ndarray | None:
    """RGB uint8 pixels of the first frame with Pillow, EXIF orientation applied; None when
    Pillow cannot decode it."""
    from PIL import ImageOps

    try:
        with _pillow_open(data) as im:
            im.seek(0)
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                a = np.asarray(im, dtype=np.float64)
                top = 65535.0 if im.mode.startswith("I;16") else max(float(a.max()), 1.0)
                a = np.clip(a / top * 255.0, 0, 255).round().astype(np.uint8)
                return np.repeat(a[..., None], 3, axis=2)
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except Exception:  # noqa: BLE001 - any decoder failure is "not readable" for the caller
        return None


def _decode(data: bytes, path) -> np.ndarray:
    if not data:
        raise IntakeError("empty file (0 bytes)", reason="empty", path=path)
    if _truncated_jpeg(data) or _truncated_png(data):
        raise IntakeError("truncated image (file ends before the image data)", reason="truncated",
                          path=path)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is not None:
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    rgb = _pillow_decode(data)
    if rgb is None:
        raise IntakeError("not a readable image", reason="unreadable", path=path,
                          hint="neither OpenCV nor Pillow decodes it; common formats: "
                          f"{', '.join(IMAGE_SUFFIXES + ('.ppm', '.gif'))}")
    return rgb


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise IntakeError("image not found", reason="not_found", path=path)
    return path.read_bytes()


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB ``uint8`` ``(H, W, 3)``.

    Raises DataError naming the file when it is missing, empty, truncated or not an image.
    """
    path = Path(path)
    return _decode(_read_bytes(path), path)


def read_image(source: str | Path | bytes, *, name: str | None = None,
               limits: ImageLimits | None = ImageLimits()) -> DecodedImage:
    """Intake of one image: a path or the file's bytes (``name`` is what errors call it).

    Checks the size from the header before decoding (``limits.max_megapixels``), decodes
    (see the module doc) and checks the shorter side (``limits.min_side``). Raises
    :class:`IntakeError` (a DataError) naming the file, the problem and the limit.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label = bytes(source), name or "<bytes>"
    else:
        path = Path(source)
        label = name or str(path)
        data = _read_bytes(path)
    if not data:
        raise IntakeError("empty file (0 bytes)", reason="empty", path=label)
    head = image_header(data)
    if head is not None and limits is not None and limits.max_megapixels is not None:
        mp = head["width"] * head["height"] / 1e6
        if mp > limits.max_megapixels:
            raise IntakeError(f"image is {head['width']} x {head['height']} px ({mp:.1f} "
                              f"megapixels), over the limit of {limits.max_megapixels:g}",
                              reason="too_large", path=label,
                              hint="downscale it, or raise the limit (--max-megapixels)")
    pixels = _decode(data, label)
    h, w = pixels.shape[:2]
    if limits is not None and limits.max_megapixels is not None and head is None \
            and w * h / 1e6 > limits.max_megapixels:  # a format only OpenCV knows: no header
        raise IntakeError(f"image is {w} x {h} px ({w * h / 1e6:.1f} megapixels), over the "
                          f"limit of {limits.max_megapixels:g}", reason="too_large", path=label,
                          hint="downscale it, or raise the limit (--max-megapixels)")
    if limits is not None and min(h, w) < limits.min_side:
        raise IntakeError(f"image is {w} x {h} px, smaller than the minimum of "
                          f"{limits.min_side} px on its shorter side", reason="too_small",
                          path=label, hint="give a larger image (--min-size sets the minimum)")
    notes = []
    if head is not None:
        if head["mode"] in _MODE_NOTES:
            notes.append(_MODE_NOTES[head["mode"]])
        if head["orientation"] not in (0, 1):
            notes.append(f"EXIF orientation {head['orientation']} applied")
        if head["frames"] > 1:
            notes.append(f"first of {head['frames']} frames")
    if head is not None and head["format"] == "PNG" and head["mode"] in ("RGB", "RGBA") \
            and _png_bit_depth(data) == 16:
        notes.insert(0, "16-bit samples scaled to 8 bits")
    return DecodedImage(pixels, head["format"] if head else "", head["mode"] if head else "",
                        notes)


def _png_bit_depth(data: bytes) -> int:
    # IHDR starts at byte 8: length(4) type(4) width(4) height(4) bit depth(1)
    return data[24] if len(data) > 24 and data[12:16] == b"IHDR" else 8


def save_image(path: str | Path, image: np.ndarray, *, jpeg_quality: int = 95) -> Path:
    """Write an RGB ``uint8`` image (PNG or JPEG by suffix); creates parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bgr = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if path.suffix.lower() in (
        ".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(path.suffix, bgr, params)
    if not ok:
        raise DataError("cannot encode image", path=path)
    path.write_bytes(buf.tobytes())
    return path


def list_media(paths: list[str | Path], *, suffixes: tuple[str, ...] = IMAGE_SUFFIXES,
               keep_missing: bool = False, skipped: list[tuple[Path, str]] | None = None,
               ) -> list[Path]:
    """Expand files and folders (recursively, sorted) into media files with the given suffixes.

    A path that does not exist raises DataError, or is kept (``keep_missing``) so that batch
    callers report it per file. Files given explicitly are kept whatever their suffix, so a bad
    file is reported rather than silently skipped. ``skipped``: a list that receives
    ``(file, reason)`` for every file inside a folder left out for its suffix (hidden files,
    whose name starts with a dot, are left out without a word).
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if not f.is_file() or f.name.startswith("."):
                    continue
                if f.suffix.lower() in suffixes:
                    out.append(f)
                elif skipped is not None:
                    skipped.append((f, f"not an image or video file (suffix "
                                       f"{f.suffix or 'none'!r})"))
        elif p.exists() or keep_missing:
            out.append(p)
        else:
            raise DataError("no such file or folder", path=p)
    return out
