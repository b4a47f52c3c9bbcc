"""What ``detect`` is given, as a stream of :class:`MediaInput`: files, folders (searched
recursively) and in-memory bytes (an upload), each classed as an image or a video."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fakescope.data.images import READABLE_IMAGE_SUFFIXES, VIDEO_SUFFIXES, image_header, list_media

#: Magic bytes of the video containers PyAV is asked to open when a name has no suffix.
_VIDEO_MAGIC = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"), (8, b"AVI "))


@dataclass
class MediaInput:
    """One file to score: a ``path`` on disk, or ``data`` (its bytes) under ``name``.

    ``kind``: ``"image"`` or ``"video"`` (from the suffix; for bytes without a known suffix,
    from the content: a header Pillow reads is an image, an MP4/Matroska/AVI header a video).
    ``skip``: why it is not scored (a file in a folder whose suffix no reader knows).
    """

    name: str
    path: Path | None = None
    data: bytes | None = None
    kind: str = "image"
    skip: str | None = None

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "upload") -> MediaInput:
        suffix = Path(name).suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            kind = "video"
        elif suffix in READABLE_IMAGE_SUFFIXES or image_header(data) is not None:
            kind = "image"
        else:
            kind = "video" if any(data[o:o + len(m)] == m for o, m in _VIDEO_MAGIC) else "image"
        return cls(name=name, data=bytes(data), kind=kind)

    @classmethod
    def from_path(cls, path: str | Path) -> MediaInput:
        p = Path(path)
        return cls(name=str(p), path=p,
                   kind="video" if p.suffix.lower() in VIDEO_SUFFIXES else "image")

    def source(self):
        """What :func:`fakescope.data.images.read_image` takes: the bytes or the path."""
        return self.data if self.data is not None else self.path

    @contextmanager
    def local_file(self) -> Iterator[Path]:
        """A path to read the media from (bytes are written to a temporary file, removed after)."""
        if self.data is None:
            yield self.path
            return
        with tempfile.TemporaryDirectory(prefix="fakescope-") as tmp:
            p = Path(tmp) / ("media" + (Path(self.name).suffix or ".mp4"))
            p.write_bytes(self.data)
            yield p


def expand_inputs(items, *, skipped_too: bool = True) -> list[MediaInput]:
    """Turn paths, folders, bytes, ``(name, bytes)`` pairs and MediaInputs into a flat list.

    A folder gives its files with a suffix of an image or video format, sorted; its other files
    come back with ``skip`` set (when ``skipped_too``) so they are listed, not silently lost.
    A path that does not exist is kept; scoring reports it as ``not_found``.
    """
    if isinstance(items, (str, Path, bytes, bytearray, MediaInput)):
        items = [items]
    out: list[MediaInput] = []
    for it in items:
        if isinstance(it, MediaInput):
            out.append(it)
        elif isinstance(it, (bytes, bytearray, memoryview)):
            out.append(MediaInput.from_bytes(bytes(it)))
        elif isinstance(it, tuple) and len(it) == 2 and isinstance(it[1], (bytes, bytearray)):
            out.append(MediaInput.from_bytes(bytes(it[1]), str(it[0])))
        else:
            skipped: list[tuple[Path, str]] = []
            for f in list_media([it], keep_missing=True,
                                suffixes=READABLE_IMAGE_SUFFIXES + VIDEO_SUFFIXES,
                                skipped=skipped):
                out.append(MediaInput.from_path(f))
            if skipped_too:
                out.extend(MediaInput(name=str(f), path=f, skip=why) for f, why in skipped)
    return out


def iter_inputs(items: Iterable) -> Iterator[MediaInput]:
    """:func:`expand_inputs`, one item at a time (a generator of inputs passes through)."""
    if isinstance(items, (str, Path, bytes, bytearray, MediaInput)):
        items = [items]
    for it in items:
        yield from expand_inputs([it])
