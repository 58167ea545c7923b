"""Tests for core.uploads.sanitize_upload (no database, no settings needed)."""

import hashlib
import io
import struct
import zlib

import django.conf
import pytest
from django.conf import LazySettings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from PIL import Image, ImageCms, ImageFile, PngImagePlugin, features

from core import uploads
from core.uploads import CleanUpload, UploadRejected, sanitize_upload
from tests.images import pdf_bytes

RED = (255, 0, 0)
BLUE = (0, 0, 255)
GPS_IFD = 0x8825
EXIF_IFD = 0x8769
ORIENTATION = 0x0112
MAKE = 0x010F
MODEL = 0x0110

needs_webp = pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")


# --------------------------------------------------------------------------
# helpers


def _encode(img, fmt, **kwargs):
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _noisy_rgb(size=(256, 256)):
    """An RGB image with high entropy, so most of an encoded file is pixel data."""
    bands = [Image.effect_noise(size, 80) for _ in range(3)]
    return Image.merge("RGB", bands)


def _gps_exif():
    exif = Image.Exif()
    exif[MAKE] = "ACME Phones"
    exif[MODEL] = "Spy 3000"
    exif[GPS_IFD] = {
        1: "N",
        2: (39.0, 54.0, 27.0),
        3: "E",
        4: (116.0, 23.0, 17.0),
    }
    return exif


def _png_chunk(tag, body):
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)


def _png_header_only(width, height):
    """A tiny 1-bit greyscale PNG that claims huge dimensions."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b""))
        + _png_chunk(b"IEND", b"")
    )


def _reject(data, **kwargs):
    with pytest.raises(UploadRejected) as excinfo:
        sanitize_upload(data, **kwargs)
    return excinfo.value


def _open(result):
    img = Image.open(io.BytesIO(result.content))
    img.load()
    return img


def _assert_no_exif(img):
    exif = img.getexif()
    assert len(exif) == 0
    assert exif.get_ifd(GPS_IFD) == {}
    assert "exif" not in img.info


@pytest.fixture
def identity_gettext(monkeypatch):
    """Make lazy messages evaluable without configured Django settings."""
    # setitem on the instance dict: getattr() on an unconfigured Trans would raise.
    monkeypatch.setitem(vars(translation._trans), "gettext", lambda message: message)


PDF_OK = pdf_bytes()


# --------------------------------------------------------------------------
# JPEG


def test_valid_jpeg_round_trips():
    src = _encode(Image.new("RGB", (64, 48), (10, 200, 30)), "JPEG")
    result = sanitize_upload(SimpleUploadedFile("id.jpg", src, content_type="image/jpeg"))
    assert isinstance(result, CleanUpload)
    assert result.content_type == "image/jpeg"
    assert result.extension == ".jpg"
    assert (result.width, result.height) == (64, 48)
    img = _open(result)
    assert img.format == "JPEG"
    assert img.size == (64, 48)
    r, g, b = img.getpixel((32, 24))
    assert abs(r - 10) < 8 and abs(g - 200) < 8 and abs(b - 30) < 8


def test_jpeg_gps_exif_is_stripped():
    src = _encode(Image.new("RGB", (40, 30), (90, 90, 90)), "JPEG", exif=_gps_exif())
    # Precondition: the input really carries the metadata.
    src_img = Image.open(io.BytesIO(src))
    assert src_img.getexif()[MAKE] == "ACME Phones"
    assert src_img.getexif().get_ifd(GPS_IFD)[1] == "N"

    result = sanitize_upload(src)
    assert result.content_type == "image/jpeg"
    _assert_no_exif(_open(result))
    assert b"Exif\x00\x00" not in result.content
    assert b"ACME Phones" not in result.content
    assert b"Spy 3000" not in result.content


def test_jpeg_icc_xmp_and_comment_are_stripped():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">secret-xmp-owner</x:xmpmeta>'
    src = _encode(
        Image.new("RGB", (32, 32), (1, 2, 3)),
        "JPEG",
        icc_profile=icc,
        xmp=xmp,
        comment=b"secret-comment",
    )
    src_img = Image.open(io.BytesIO(src))
    assert src_img.info.get("icc_profile") == icc
    assert src_img.info.get("comment") == b"secret-comment"
    assert b"secret-xmp-owner" in src

    result = sanitize_upload(src)
    out = _open(result)
    assert "icc_profile" not in out.info
    assert "comment" not in out.info
    assert "xmp" not in out.info
    assert b"secret-comment" not in result.content
    assert b"secret-xmp-owner" not in result.content


def test_exif_rotated_jpeg_is_turned_upright():
    img = Image.new("RGB", (200, 100), BLUE)
    img.paste(RED, (0, 0, 100, 100))  # left half red, right half blue
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # display rotated 90 degrees clockwise
    src = _encode(img, "JPEG", exif=exif, quality=95)
    assert Image.open(io.BytesIO(src)).getexif()[ORIENTATION] == 6

    result = sanitize_upload(src)
    assert (result.width, result.height) == (100, 200)
    out = _open(result)
    assert out.size == (100, 200)
    top = out.getpixel((50, 20))
    bottom = out.getpixel((50, 180))
    assert top[0] > 200 and top[2] < 60, top  # red on top
    assert bottom[2] > 200 and bottom[0] < 60, bottom  # blue at the bottom
    assert ORIENTATION not in out.getexif()
    _assert_no_exif(out)


def test_truncated_jpeg_is_corrupt():
    src = _encode(_noisy_rgb(), "JPEG", quality=95)
    assert Image.open(io.BytesIO(src)).format == "JPEG"  # header survives the cut
    assert _reject(src[: len(src) // 2]).code == "corrupt"


def test_truncated_jpeg_is_corrupt_even_with_load_truncated_images(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    src = _encode(_noisy_rgb(), "JPEG", quality=95)
    assert _reject(src[: len(src) // 2]).code == "corrupt"
    # The global is left as the process set it, and complete images still pass.
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    assert sanitize_upload(src).content_type == "image/jpeg"


def test_cmyk_jpeg_becomes_rgb_jpeg():
    src = _encode(Image.new("CMYK", (20, 20), (0, 255, 255, 0)), "JPEG")
    assert Image.open(io.BytesIO(src)).mode == "CMYK"
    out = _open(sanitize_upload(src))
    assert out.format == "JPEG"
    assert out.mode == "RGB"
    r, g, b = out.getpixel((10, 10))
    assert r > 200 and g < 60 and b < 60


def test_mpo_is_stored_as_plain_jpeg():
    first = Image.new("RGB", (30, 20), RED)
    second = Image.new("RGB", (30, 20), BLUE)
    src = _encode(first, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(src)).format == "MPO"

    result = sanitize_upload(src)
    assert result.content_type == "image/jpeg"
    out = _open(result)
    assert out.format == "JPEG"
    assert getattr(out, "n_frames", 1) == 1
    assert out.getpixel((15, 10))[0] > 200  # the primary (red) image is kept


# --------------------------------------------------------------------------
# type detection


def test_text_file_named_jpg_is_unsupported():
    upload = SimpleUploadedFile("photo.jpg", b"just some text, not a photo\n", content_type="image/jpeg")
    assert _reject(upload).code == "unsupported_type"


def test_type_comes_from_content_not_name():
    src = _encode(Image.new("RGB", (8, 8), RED), "PNG")
    upload = SimpleUploadedFile("scan.jpg", src, content_type="image/jpeg")
    result = sanitize_upload(upload)
    assert result.content_type == "image/png"
    assert result.extension == ".png"
    assert _open(result).format == "PNG"


def test_gif_is_unsupported():
    src = _encode(Image.new("P", (10, 10), 1), "GIF")
    assert src.startswith(b"GIF8")
    assert _reject(SimpleUploadedFile("a.png", src, content_type="image/png")).code == "unsupported_type"


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
def test_other_image_formats_are_unsupported(fmt):
    src = _encode(Image.new("RGB", (10, 10), RED), fmt)
    assert Image.open(io.BytesIO(src)).format == fmt  # a valid image for Pillow
    assert _reject(src, allow_pdf=True).code == "unsupported_type"


# --------------------------------------------------------------------------
# size limits


def test_file_over_limit_is_too_large():
    src = _encode(_noisy_rgb((64, 64)), "PNG")
    assert len(src) > 1000
    assert _reject(src, max_bytes=1000).code == "too_large"
    assert _reject(SimpleUploadedFile("a.png", src), max_bytes=1000).code == "too_large"
    # Exactly at the limit is fine.
    assert sanitize_upload(src, max_bytes=len(src)).content_type == "image/png"


def test_too_large_message_names_limit_in_mb(identity_gettext):
    error = _reject(b"\0" * (1024 * 1024 + 1), max_bytes=1024 * 1024)
    assert error.code == "too_large"
    assert str(error.message) == "The file is larger than 1 MB."
    assert str(error) == "The file is larger than 1 MB."


def test_reads_at_most_max_bytes_plus_one():
    class Stream:  # no .size, so the limit must be enforced while reading
        name = "big.png"

        def __init__(self, data):
            self.buffer = io.BytesIO(data)

        def read(self, size=-1):
            return self.buffer.read(size)

    stream = Stream(b"\x89PNG" + b"\0" * 100_000)
    assert _reject(stream, max_bytes=500).code == "too_large"
    assert stream.buffer.tell() <= 501


def test_declared_size_over_limit_is_refused_without_reading():
    class Upload:
        name = "big.jpg"
        size = 50_000_000

        def read(self, size=-1):
            raise AssertionError("must not be read")

    assert _reject(Upload(), max_bytes=1000).code == "too_large"


def test_upload_is_read_from_the_start():
    src = _encode(Image.new("RGB", (8, 8), RED), "PNG")
    upload = SimpleUploadedFile("a.png", src)
    upload.read(10)  # e.g. a previous validator peeked at it
    assert sanitize_upload(upload).content_type == "image/png"


def test_limits_default_to_settings(monkeypatch):
    fake = LazySettings()
    fake.configure(UPLOAD_MAX_BYTES=100, UPLOAD_MAX_PIXELS=10)
    monkeypatch.setitem(vars(django.conf), "settings", fake)
    assert _reject(b"\0" * 101).code == "too_large"
    small_png = _encode(Image.new("1", (4, 4)), "PNG")
    assert len(small_png) <= 100
    assert _reject(small_png).code == "too_many_pixels"


def test_limits_work_without_configured_settings(monkeypatch):
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    monkeypatch.setitem(vars(django.conf), "settings", LazySettings())
    assert uploads._setting("UPLOAD_MAX_BYTES", 123) == 123
    result = sanitize_upload(_encode(Image.new("RGB", (8, 8), RED), "PNG"))
    assert result.content_type == "image/png"
    assert _reject(b"\0" * (uploads.DEFAULT_MAX_BYTES + 1)).code == "too_large"


# --------------------------------------------------------------------------
# decompression bombs


def test_decompression_bomb_is_refused_before_decoding(monkeypatch):
    # Do not rely on Pillow's global limit: disable it entirely.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    src = _encode(Image.new("1", (10_000, 10_000), 0), "PNG")
    assert len(src) < 100_000  # compresses tiny

    def no_load(self):
        raise AssertionError("pixels must not be decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_load)
    assert _reject(src, max_pixels=1_000_000).code == "too_many_pixels"


def test_pixel_limit_boundary():
    exact = _encode(Image.new("L", (1000, 1000), 7), "PNG")
    one_more = _encode(Image.new("L", (1001, 1000), 7), "PNG")
    assert sanitize_upload(exact, max_pixels=1_000_000).width == 1000
    assert _reject(one_more, max_pixels=1_000_000).code == "too_many_pixels"


@pytest.mark.parametrize("side", [20_000, 10_000])  # above 2x / above 1x Pillow's limit
def test_pillow_bomb_threshold_is_a_clean_rejection(monkeypatch, side):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 89_478_485)  # Pillow's default
    src = _png_header_only(side, side)
    assert len(src) < 100
    # max_pixels far above Pillow's own threshold: Pillow's check must trip.
    error = _reject(src, max_pixels=10**12)
    assert error.code == "too_many_pixels"


def test_too_many_pixels_message(identity_gettext):
    error = _reject(_png_header_only(5000, 5000), max_pixels=2_500_000)
    assert error.code == "too_many_pixels"
    assert "dimensions are too large" in str(error.message)
    assert "2.5 megapixels" in str(error.message)


# --------------------------------------------------------------------------
# PNG / WebP


def test_png_with_alpha_stays_rgba_png():
    img = Image.new("RGBA", (40, 40), (0, 128, 255, 255))
    img.putpixel((0, 0), (255, 0, 0, 0))  # fully transparent
    img.putpixel((10, 10), (0, 255, 0, 128))  # half transparent
    result = sanitize_upload(_encode(img, "PNG"))
    assert result.content_type == "image/png"
    assert result.extension == ".png"
    out = _open(result)
    assert out.format == "PNG"
    assert out.mode == "RGBA"
    assert out.getpixel((0, 0))[3] == 0
    assert out.getpixel((10, 10)) == (0, 255, 0, 128)
    assert out.getpixel((20, 20)) == (0, 128, 255, 255)


def test_palette_png_transparency_survives_as_alpha():
    img = Image.new("P", (10, 10), 1)
    img.putpalette([255, 255, 255, 255, 0, 0] + [0] * (256 * 3 - 6))
    img.putpixel((0, 0), 0)
    src = _encode(img, "PNG", transparency=0)
    result = sanitize_upload(src)
    out = _open(result).convert("RGBA")
    assert out.getpixel((0, 0))[3] == 0
    assert out.getpixel((5, 5)) == (255, 0, 0, 255)


def test_png_metadata_is_stripped():
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "secret-author")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = _encode(Image.new("RGB", (16, 16), RED), "PNG", pnginfo=info, exif=_gps_exif(), icc_profile=icc)
    src_img = Image.open(io.BytesIO(src))
    assert src_img.info.get("Author") == "secret-author"
    assert src_img.getexif().get_ifd(GPS_IFD)

    result = sanitize_upload(src)
    out = _open(result)
    _assert_no_exif(out)
    assert "Author" not in out.info
    assert "icc_profile" not in out.info
    assert b"secret-author" not in result.content
    assert b"ACME Phones" not in result.content


def test_truncated_png_is_corrupt():
    src = _encode(_noisy_rgb((128, 128)), "PNG")
    assert _reject(src[: len(src) // 2]).code == "corrupt"


def test_truncated_png_is_corrupt_even_with_load_truncated_images(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    src = _encode(_noisy_rgb((128, 128)), "PNG")
    assert _reject(src[: len(src) // 2]).code == "corrupt"
    assert sanitize_upload(src).content_type == "image/png"


@needs_webp
def test_webp_round_trips_without_metadata_and_keeps_alpha():
    img = Image.new("RGBA", (32, 32), (200, 20, 20, 255))
    img.paste((0, 0, 0, 0), (0, 0, 16, 32))  # left half transparent
    src = _encode(img, "WEBP", lossless=True, exif=_gps_exif())
    assert Image.open(io.BytesIO(src)).getexif().get_ifd(GPS_IFD)

    result = sanitize_upload(src)
    assert result.content_type == "image/webp"
    assert result.extension == ".webp"
    out = _open(result)
    assert out.format == "WEBP"
    assert out.mode == "RGBA"
    assert out.getpixel((4, 16))[3] == 0
    assert out.getpixel((28, 16))[3] == 255
    _assert_no_exif(out)
    assert b"ACME Phones" not in result.content


@needs_webp
def test_opaque_webp_stays_rgb():
    src = _encode(Image.new("RGB", (16, 16), BLUE), "WEBP")
    out = _open(sanitize_upload(src))
    assert out.format == "WEBP"
    assert out.mode == "RGB"


# --------------------------------------------------------------------------
# PDF


def test_pdf_refused_unless_allowed():
    assert _reject(PDF_OK).code == "unsupported_type"
    assert _reject(SimpleUploadedFile("letter.pdf", PDF_OK, content_type="application/pdf")).code == (
        "unsupported_type"
    )


def test_pdf_accepted_when_allowed():
    result = sanitize_upload(SimpleUploadedFile("letter.pdf", PDF_OK), allow_pdf=True)
    assert result.content_type == "application/pdf"
    assert result.extension == ".pdf"
    # Stored as pikepdf re-saved it (issue 7 §3): a well-formed PDF, not the uploaded bytes.
    assert result.content.startswith(b"%PDF-")
    assert result.width is None and result.height is None


def test_pdf_without_eof_marker_is_corrupt():
    assert _reject(PDF_OK.replace(b"%%EOF", b""), allow_pdf=True).code == "corrupt"


def test_pdf_eof_marker_must_be_near_the_end():
    far = PDF_OK + b"%" + b"x" * 2000 + b"\n"
    assert _reject(far, allow_pdf=True).code == "corrupt"


# --------------------------------------------------------------------------
# misc


@pytest.mark.parametrize("upload", [b"", SimpleUploadedFile("empty.jpg", b"")], ids=["bytes", "file"])
def test_empty_file(upload):
    assert _reject(upload, allow_pdf=True).code == "empty"


def test_sha256_matches_content():
    src = _encode(_noisy_rgb((32, 32)), "JPEG", exif=_gps_exif())
    result = sanitize_upload(src)
    assert result.content != src  # re-encoded, not the original bytes
    assert result.sha256 == hashlib.sha256(result.content).hexdigest()
    assert result.sha256 != hashlib.sha256(src).hexdigest()

    pdf = sanitize_upload(PDF_OK, allow_pdf=True)
    assert pdf.sha256 == hashlib.sha256(pdf.content).hexdigest()


def test_clean_upload_is_frozen():
    result = sanitize_upload(_encode(Image.new("RGB", (4, 4)), "PNG"))
    with pytest.raises(AttributeError):
        result.content = b"tampered"
