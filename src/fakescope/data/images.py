"""Image files: load with a clear error, list a folder, save.

Arrays are RGB ``uint8`` of shape ``(H, W, 3)``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fakescope.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


def _truncated_jpeg(data: bytes) -> bool:
    # A complete JPEG ends with the EOI marker (FF D9); decoders silently fill missing rows.
    return data[:2] == b"\xff\xd8" and data.rstrip(b"\x00")[-2:] != b"\xff\xd9"


def _truncated_png(data: bytes) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in data[-16:]


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB ``uint8`` ``(H, W, 3)``.

    Raises DataError naming the file when it is missing, empty, truncated or not an image.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("image not found", path=path)
    data = path.read_bytes()
    if not data:
        raise DataError("empty file (0 bytes)", path=path)
    if _truncated_jpeg(data) or _truncated_png(data):
        raise DataError("truncated image (file ends before the image data)", path=path)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError("not a readable image", path=path,
                        hint=f"supported: {', '.join(IMAGE_SUFFIXES)}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


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
               keep_missing: bool = False) -> list[Path]:
    """Expand files and folders (recursively, sorted) into media files with the given suffixes.

    A path that does not exist raises DataError, or is kept (``keep_missing``) so that batch
    callers report it per file. Files given explicitly are kept whatever their suffix, so a bad
    file is reported rather than silently skipped.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes))
        elif p.exists() or keep_missing:
            out.append(p)
        else:
            raise DataError("no such file or folder", path=p)
    return out
