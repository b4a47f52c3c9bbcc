import io

import numpy as np
import pytest
from PIL import Image

from fakescope.serve.limits import IntakeError, Limits, check_image_header, check_size, sniff
from tests._dummies.media import png_header_only
from tests.serve.conftest import png_bytes


def encoded(arr_or_img, fmt: str, **kw) -> bytes:
    img = arr_or_img if isinstance(arr_or_img, Image.Image) else Image.fromarray(arr_or_img)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("fmt,kind", [("PNG", "image"), ("JPEG", "image"), ("BMP", "image"),
                                      ("TIFF", "image"), ("WEBP", "image"), ("PPM", "image")])
def test_sniff_reads_image_signatures_not_names(fmt, kind):
    data = encoded(np.zeros((20, 20, 3), np.uint8), fmt)
    assert sniff(data[:32])[0] == kind


def test_sniff_videos_and_refuses_other_bytes(tmp_path):
    from tests.serve.conftest import video_bytes

    assert sniff(video_bytes(tmp_path)[:32]) == ("video", "mp4/mov")
    assert sniff(b"\x1aE\xdf\xa3" + b"\x00" * 28)[0] == "video"
    for junk in (b"hello world, not an image at all", b"%PDF-1.7\n" + b"x" * 30,
                 b"GIF89a" + b"\x00" * 30, b""):
        assert sniff(junk) is None


def test_decompression_bomb_is_refused_from_its_header_before_decoding():
    data = png_header_only(30000, 30000)
    assert len(data) < 200
    with pytest.raises(IntakeError) as e:
        check_image_header(data, Limits(), "bomb.png")
    assert e.value.status == 422 and e.value.limit == "max_megapixels"
    assert "900 megapixels" in e.value.message and "bomb.png" in e.value.message
    with pytest.raises(IntakeError) as e:  # under Pillow's own cap: our header check
        check_image_header(png_header_only(9000, 9000), Limits(), "b2.png")
    assert e.value.status == 422 and "9000 x 9000 = 81.0 megapixels" in e.value.message


def test_absurd_and_tiny_dimensions_name_the_limit():
    with pytest.raises(IntakeError) as e:
        check_image_header(png_bytes((1, 1)), Limits(), "dot.png")
    assert e.value.status == 422 and e.value.limit == "min_side"
    with pytest.raises(IntakeError) as e:
        check_image_header(png_header_only(25000, 20), Limits(), "strip.png")
    assert e.value.status == 422 and e.value.limit == "max_side"


def test_header_check_reads_sizes_without_decoding_and_refuses_non_images():
    data = png_bytes((64, 48))
    assert check_image_header(data[:200], Limits(), "half.png") == (64, 48)  # header only
    with pytest.raises(IntakeError) as e:
        check_image_header(b"just some text pretending" * 3, Limits(), "a.png")
    assert e.value.status == 415


def test_size_limits():
    lim = Limits(image_bytes=1000, video_bytes=5000)
    check_size("image", 1000, lim, "x")
    with pytest.raises(IntakeError) as e:
        check_size("image", 1001, lim, "x")
    assert e.value.status == 413
    check_size("video", 4000, lim, "v")
    with pytest.raises(IntakeError):
        check_size("video", 5001, lim, "v")
