import numpy as np
import pytest

from fakescope.data.images import list_media, load_image, save_image
from fakescope.errors import DataError


def test_roundtrip_png(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (9, 7, 3), dtype=np.uint8)
    assert np.array_equal(load_image(save_image(tmp_path / "a.png", img)), img)


@pytest.mark.parametrize("content,problem", [
    (b"", "empty file"),
    (b"not an image at all", "not a readable image"),
])
def test_bad_files(tmp_path, content, problem):
    f = tmp_path / "x.png"
    f.write_bytes(content)
    with pytest.raises(DataError, match=problem):
        load_image(f)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated(tmp_path, suffix):
    img = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    f = save_image(tmp_path / f"t{suffix}", img)
    f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
    with pytest.raises(DataError, match="truncated"):
        load_image(f)


def test_list_media(tmp_path):
    img = np.zeros((4, 4, 3), np.uint8)
    save_image(tmp_path / "d" / "b.png", img)
    save_image(tmp_path / "d" / "sub" / "a.jpg", img)
    (tmp_path / "d" / "notes.txt").write_text("x")
    assert [p.name for p in list_media([tmp_path / "d"])] == ["b.png", "a.jpg"]
    with pytest.raises(DataError, match="no such file"):
        list_media([tmp_path / "missing"])
    assert list_media([tmp_path / "missing"], keep_missing=True) == [tmp_path / "missing"]


# ---------------------------------------------------------------- intake (read_image)
import io  # noqa: E402

from PIL import Image, ImageOps  # noqa: E402

from fakescope.data.images import (  # noqa: E402
    READABLE_IMAGE_SUFFIXES,
    ImageLimits,
    IntakeError,
    read_image,
)
from tests._dummies.media import png_header_only  # noqa: E402


def _pil_bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


RGB = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)


def test_oversized_png_is_refused_from_its_header(tmp_path):
    f = tmp_path / "huge.png"
    f.write_bytes(png_header_only(20000, 20000))
    with pytest.raises(IntakeError, match=r"20000 x 20000 px \(400.0 megapixels\), over the "
                       r"limit of 50") as exc:
        read_image(f)
    assert exc.value.reason == "too_large" and str(f) in str(exc.value)
    with pytest.raises(IntakeError, match="limit of 100"):
        read_image(f.read_bytes(), name="upload.png", limits=ImageLimits(max_megapixels=100))


def test_tiny_image_is_refused(tmp_path):
    f = save_image(tmp_path / "one.png", np.zeros((1, 1, 3), np.uint8))
    with pytest.raises(IntakeError, match=r"1 x 1 px, smaller than the minimum of 16 px") as exc:
        read_image(f)
    assert exc.value.reason == "too_small"
    assert read_image(f, limits=ImageLimits(min_side=1)).pixels.shape == (1, 1, 3)


@pytest.mark.parametrize("mode,fmt,note", [
    ("CMYK", "JPEG", "CMYK converted to RGB"),
    ("L", "PNG", "grayscale expanded to RGB"),
    ("RGBA", "PNG", "alpha channel dropped"),
    ("RGB", "PPM", None),
    ("RGB", "TGA", None),   # Pillow only: OpenCV does not read TGA
    ("RGB", "PCX", None),
    ("P", "GIF", "palette expanded to RGB"),
])
def test_modes_and_formats_decode_like_pillow(mode, fmt, note):
    im = Image.fromarray(RGB).convert(mode)
    data = _pil_bytes(im, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    got = read_image(data, name=f"x.{fmt.lower()}")
    ref = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)
    assert got.pixels.shape == (40, 60, 3) and got.pixels.dtype == np.uint8
    assert np.abs(got.pixels.astype(np.int16) - ref).mean() < 3  # JPEG decoders differ by LSBs
    assert got.format == fmt and (note is None or note in got.notes)


def test_16_bit_png_is_scaled_to_8_bits():
    import cv2

    deep = (RGB.astype(np.uint16) * 257)[..., ::-1]
    data = cv2.imencode(".png", np.ascontiguousarray(deep))[1].tobytes()
    got = read_image(data, name="deep.png")
    assert np.array_equal(got.pixels, RGB) and "16-bit samples scaled to 8 bits" in got.notes
    gray = Image.fromarray(RGB[..., 0].astype(np.uint16) * 257)  # mode I;16
    got = read_image(_pil_bytes(gray, "PNG"), name="g.png")
    assert np.array_equal(got.pixels[..., 1], RGB[..., 0])


@pytest.mark.parametrize("orientation", [2, 3, 6, 8])
def test_exif_orientation_is_applied_as_pillow_does(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _pil_bytes(Image.fromarray(RGB), "JPEG", exif=exif.tobytes(), quality=98)
    got = read_image(data, name="o.jpg")
    ref = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    assert got.pixels.shape == ref.shape
    assert np.abs(got.pixels.astype(int) - ref).mean() < 3
    assert f"EXIF orientation {orientation} applied" in got.notes


def test_suffixes_cover_pillow_and_opencv_formats(tmp_path):
    for s in (".ppm", ".pgm", ".tga", ".gif", ".webp", ".tiff", ".jp2", ".exr", ".ico"):
        assert s in READABLE_IMAGE_SUFFIXES
    (tmp_path / "d").mkdir()
    Image.fromarray(RGB).save(tmp_path / "d" / "a.ppm")
    (tmp_path / "d" / "notes.txt").write_text("x")
    (tmp_path / "d" / ".hidden").write_text("x")
    skipped = []
    found = list_media([tmp_path / "d"], suffixes=READABLE_IMAGE_SUFFIXES, skipped=skipped)
    assert [p.name for p in found] == ["a.ppm"]
    assert [(p.name, "suffix '.txt'" in why) for p, why in skipped] == [("notes.txt", True)]
