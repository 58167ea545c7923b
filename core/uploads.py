"""Sanitising of uploaded documents and photos that carry personal data.

Every ID-card photo, business licence, face photo or official letter passes
through :func:`sanitize_upload` before it is stored:

* the type is detected from the content (magic bytes), never from the file
  name or the content type sent by the client;
* only JPEG, PNG and WebP images are accepted, plus PDF where the caller
  explicitly allows it (``allow_pdf=True``);
* the size is limited (``settings.UPLOAD_MAX_BYTES``) and so is the number of
  pixels (``settings.UPLOAD_MAX_PIXELS``), which turns decompression bombs
  into a clean :class:`UploadRejected` error (HTTP 400 in the web layer); in a
  web request all its images together draw on one pixel budget
  (``settings.UPLOAD_MAX_REQUEST_PIXELS``, core.limits);
* images are fully decoded and re-encoded with Pillow.  Re-encoding drops all
  metadata (EXIF including GPS, XMP, ICC profiles, comments, text chunks);
  the EXIF orientation is applied to the pixels first, so the stored image
  stays upright.

PDF files are parsed with pikepdf (qpdf): a file that does not parse is
refused (HTML behind a ``%PDF-`` header included), so is one that is password
protected or has active content (JavaScript, OpenAction, additional actions,
Launch and other actions that run or send something, embedded files, XFA,
RichMedia), and what is stored is pikepdf's re-saved copy: only the objects the
parser understood, without the document information and XMP metadata.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from dataclasses import dataclass, field

import pikepdf
from django.core.exceptions import AppRegistryNotReady, ImproperlyConfigured
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from core.errors import ValidationFailed
from core.limits import spend_pixels

__all__ = [
    "CleanUpload",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "UploadRejected",
    "sanitize_upload",
]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024  # 10 MiB
DEFAULT_MAX_PIXELS = 40_000_000

_MIB = 1024 * 1024
_PDF_MAGIC = b"%PDF-"
_PDF_EOF = b"%%EOF"
_PDF_EOF_WINDOW = 1024  # %%EOF must appear within the last 1 KiB

# Pillow decoders that may run at all.  Restricting Image.open() to these
# keeps every other (less hardened) decoder away from untrusted input; a GIF,
# BMP, TIFF... is then simply "not identified" and rejected as unsupported.
_OPEN_FORMATS = ("JPEG", "PNG", "WEBP")

# Pillow format name -> (output format, content type, extension).
# MPO (multi-picture JPEG, written by many phone cameras) is opened by the
# JPEG plugin; only its first (primary) image is kept.
_OUTPUTS = {
    "JPEG": ("JPEG", "image/jpeg", ".jpg"),
    "MPO": ("JPEG", "image/jpeg", ".jpg"),
    "PNG": ("PNG", "image/png", ".png"),
    "WEBP": ("WEBP", "image/webp", ".webp"),
}

# PNG modes that are written as they are.
_PNG_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"}

# Exceptions Pillow raises on malformed input.
_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)

# User-facing messages (English msgids; translated elsewhere).
_MSG_EMPTY = _("The file is empty.")
_MSG_TOO_LARGE = _("The file is larger than %(limit)s MB.")
_MSG_UNSUPPORTED = _("This file type is not supported. Please upload a JPEG, PNG or WebP image.")
_MSG_UNSUPPORTED_PDF_ALLOWED = _(
    "This file type is not supported. Please upload a JPEG, PNG or WebP image or a PDF file."
)
_MSG_TOO_MANY_PIXELS = _("The image dimensions are too large. Please upload an image of at most %(limit)s megapixels.")
_MSG_REQUEST_TOO_MANY_PIXELS = _(
    "Together, the images of this request are too large: at most %(limit)s megapixels can be processed in one "
    "request. Send fewer or smaller images."
)
_MSG_CORRUPT_IMAGE = _("The image file is damaged or incomplete, please upload it again.")
_MSG_CORRUPT_PDF = _("The PDF file is damaged or incomplete, please upload it again.")
_MSG_PDF_ACTIVE = _(
    "The PDF contains active content (scripts, automatic actions, forms or embedded files), which is not "
    "accepted. Print it to a plain PDF or upload a scan of the paper document."
)
_MSG_PDF_ENCRYPTED = _("The PDF is password-protected. Upload it without a password.")
_MSG_PDF_NO_PAGES = _("The PDF file has no pages.")


class UploadRejected(ValidationFailed, ValueError):
    """The upload cannot be accepted.

    ``code`` is a stable machine-readable reason ('empty', 'too_large',
    'unsupported_type', 'too_many_pixels', 'corrupt'); ``message`` is a
    (lazily translated) text to show to the user.
    """

    def __init__(self, code: str, message):
        super().__init__(message, code=code)

    def __str__(self) -> str:
        try:
            return str(self.message)
        except (ImproperlyConfigured, AppRegistryNotReady):
            # Translation needs configured settings; fall back to the code.
            return self.code


@dataclass(frozen=True)
class CleanUpload:
    content: bytes = field(repr=False)  # the re-encoded bytes to store
    content_type: str  # 'image/jpeg', 'image/png', 'image/webp' or 'application/pdf'
    extension: str  # '.jpg', '.png', '.webp', '.pdf'
    width: int | None
    height: int | None
    sha256: str  # hex digest of `content`


def sanitize_upload(
    upload,
    *,
    allow_pdf: bool = False,
    max_bytes: int | None = None,
    max_pixels: int | None = None,
    field: str | None = None,
) -> CleanUpload:
    """Validate ``upload`` and return a metadata-free copy that is safe to store.

    ``upload`` is a Django ``UploadedFile``-like object (``read()``, ``size``,
    optionally ``seek()``) or raw bytes.  Raises :class:`UploadRejected` (a
    ValidationFailed), about ``field`` when one is given: the form field or API
    field the file came in.
    """
    try:
        return _sanitize(upload, allow_pdf=allow_pdf, max_bytes=max_bytes, max_pixels=max_pixels)
    except UploadRejected as exc:
        if field is not None:
            exc.field = field
        raise


def _sanitize(upload, *, allow_pdf: bool, max_bytes: int | None, max_pixels: int | None) -> CleanUpload:
    if max_bytes is None:
        max_bytes = int(_setting("UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES))
    if max_pixels is None:
        max_pixels = int(_setting("UPLOAD_MAX_PIXELS", DEFAULT_MAX_PIXELS))

    data = _read_limited(upload, max_bytes)
    if not data:
        raise UploadRejected("empty", _MSG_EMPTY)

    if data.startswith(_PDF_MAGIC):
        if not allow_pdf:
            raise UploadRejected("unsupported_type", _MSG_UNSUPPORTED)
        return _sanitize_pdf(data)
    return _sanitize_image(data, allow_pdf=allow_pdf, max_pixels=max_pixels)


# --------------------------------------------------------------------------
# helpers


def _setting(name: str, default):
    """``getattr(settings, name, default)`` that also works without settings."""
    try:
        # Looked up at each call, not bound at import: a caller may swap django.conf.settings (tests do).
        from django.conf import settings

        return getattr(settings, name, default)
    except ImproperlyConfigured:
        return default


def _interpolate(message, **params):
    """``message % params``, evaluated lazily (translation happens on str())."""
    return lazy(lambda: str(message) % params, str)()


def _format_number(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text != "0" else f"{value:.2g}"


def _too_large(max_bytes: int) -> UploadRejected:
    return UploadRejected("too_large", _interpolate(_MSG_TOO_LARGE, limit=_format_number(max_bytes / _MIB)))


def _too_many_pixels(max_pixels: int) -> UploadRejected:
    limit = max_pixels
    pillow_limit = Image.MAX_IMAGE_PIXELS
    if pillow_limit:
        # Pillow refuses more than MAX_IMAGE_PIXELS by itself.
        limit = min(limit, int(pillow_limit))
    return UploadRejected(
        "too_many_pixels",
        _interpolate(_MSG_TOO_MANY_PIXELS, limit=_format_number(limit / 1_000_000)),
    )


def _unsupported(allow_pdf: bool) -> UploadRejected:
    return UploadRejected(
        "unsupported_type",
        _MSG_UNSUPPORTED_PDF_ALLOWED if allow_pdf else _MSG_UNSUPPORTED,
    )


def _read_limited(upload, max_bytes: int) -> bytes:
    """Return the upload's bytes, reading at most ``max_bytes + 1`` of them."""
    if isinstance(upload, (bytes, bytearray, memoryview)):
        data = bytes(upload)
        if len(data) > max_bytes:
            raise _too_large(max_bytes)
        return data

    size = getattr(upload, "size", None)
    if isinstance(size, int) and size > max_bytes:
        raise _too_large(max_bytes)

    seek = getattr(upload, "seek", None)
    if callable(seek):
        try:
            seek(0)
        except (OSError, ValueError):
            pass  # not seekable: read from the current position

    chunks = []
    remaining = max_bytes + 1
    while remaining > 0:
        chunk = upload.read(remaining)
        if not chunk:
            break
        if isinstance(chunk, str):
            raise TypeError("sanitize_upload() needs a file opened in binary mode")
        chunks.append(bytes(chunk))
        remaining -= len(chunk)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


# Keys of a PDF dictionary that run something, or carry something to run.
_PDF_ACTIVE_KEYS = frozenset(
    {
        "/JavaScript",
        "/JS",
        "/OpenAction",
        "/AA",
        "/Launch",
        "/EmbeddedFiles",
        "/EmbeddedFile",
        "/EF",
        "/XFA",
        "/RichMedia",
        "/RichMediaContent",
        "/RichMediaSettings",
    }
)
# Action types (/S) that run code, open programs or files, or send data away.
_PDF_ACTIVE_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/SubmitForm",
        "/ImportData",
        "/ResetForm",
        "/RichMediaExecute",
        "/Rendition",
        "/GoToE",
        "/GoToR",
        "/Movie",
        "/Sound",
        "/Hide",
        "/SetOCGState",
        "/Trans",
        "/GoTo3DView",
    }
)
# Annotation subtypes that play or embed content.
_PDF_ACTIVE_SUBTYPES = frozenset({"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"})


def _sanitize_pdf(data: bytes) -> CleanUpload:
    # A truncated upload is refused as such, before qpdf would try to repair it.
    if _PDF_EOF not in data[-_PDF_EOF_WINDOW:]:
        raise UploadRejected("corrupt", _MSG_CORRUPT_PDF)
    try:
        # No repair: a file that needs qpdf's reconstruction to open is damaged (or made to make two
        # readers disagree about what it holds), and the sender can export it again.
        pdf = pikepdf.open(io.BytesIO(data), attempt_recovery=False)
    except pikepdf.PasswordError:
        raise UploadRejected("encrypted", _MSG_PDF_ENCRYPTED) from None
    except (pikepdf.PikepdfError, ValueError, RuntimeError, OSError):
        raise UploadRejected("corrupt", _MSG_CORRUPT_PDF) from None
    with pdf:
        try:
            if len(pdf.pages) == 0:
                raise UploadRejected("corrupt", _MSG_PDF_NO_PAGES)
            if _pdf_has_active_content(pdf):
                raise UploadRejected("active_content", _MSG_PDF_ACTIVE)
            # Like EXIF in a photo: author, software and dates may name people.
            if "/Info" in pdf.trailer:
                del pdf.trailer["/Info"]
            if "/Metadata" in pdf.Root:
                del pdf.Root["/Metadata"]
            out = io.BytesIO()
            # Streams are copied as they are (not decoded), so a compressed bomb is never inflated.
            pdf.save(
                out,
                encryption=False,
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
                fix_metadata_version=False,
                deterministic_id=True,
            )
        except UploadRejected:
            raise
        except (pikepdf.PikepdfError, ValueError, RuntimeError, OSError, RecursionError):
            raise UploadRejected("corrupt", _MSG_CORRUPT_PDF) from None
    return _result(out.getvalue(), "application/pdf", ".pdf", None, None)


def _pdf_has_active_content(pdf: pikepdf.Pdf) -> bool:
    """Look at every object of the file, reachable or not, and at the direct objects inside them."""
    pending = [pdf.trailer, *pdf.objects]
    while pending:
        obj = pending.pop()
        if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
            keys = set(obj.keys())
            if keys & _PDF_ACTIVE_KEYS:
                return True
            if str(obj.get("/S", "")) in _PDF_ACTIVE_ACTIONS:
                return True
            if str(obj.get("/Subtype", "")) in _PDF_ACTIVE_SUBTYPES:
                return True
            children = [obj[key] for key in keys]
        elif isinstance(obj, pikepdf.Array):
            children = list(obj)
        else:
            continue
        # Indirect objects are in pdf.objects already; scalars come back as Python values.
        pending.extend(
            child
            for child in children
            if isinstance(child, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)) and not child.is_indirect
        )
    return False


class _TrackingBytesIO(io.BytesIO):
    """BytesIO that records an attempt to read past the end while armed.

    Used only when ``ImageFile.LOAD_TRUNCATED_IMAGES`` is True (set by some
    other code in the process): Pillow then silently pads truncated images,
    so a decoder hitting the end of the data is how truncation is detected.
    """

    def __init__(self, data: bytes):
        super().__init__(data)
        self.armed = False
        self.hit_eof = False

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        if self.armed and not chunk and size != 0:
            self.hit_eof = True
        return chunk


def _sanitize_image(data: bytes, *, allow_pdf: bool, max_pixels: int) -> CleanUpload:
    fp = _TrackingBytesIO(data)
    # The global Image.MAX_IMAGE_PIXELS check is a second line of defence only
    # (it may be disabled, and catch_warnings() is process-wide); the explicit
    # width * height check below is what enforces max_pixels.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(fp, formats=_OPEN_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_many_pixels(max_pixels) from None
        except UnidentifiedImageError:
            raise _unsupported(allow_pdf) from None
        except _PIL_ERRORS:
            # Recognised by its header but unreadable.
            raise UploadRejected("corrupt", _MSG_CORRUPT_IMAGE) from None

        with img:
            if img.format not in _OUTPUTS:
                raise _unsupported(allow_pdf)
            out_format, content_type, extension = _OUTPUTS[img.format]

            width, height = img.size
            if width <= 0 or height <= 0:
                raise UploadRejected("corrupt", _MSG_CORRUPT_IMAGE)
            # Before load(): nothing big has been allocated yet.
            if width * height > max_pixels:
                raise _too_many_pixels(max_pixels)
            request_limit = spend_pixels(width * height)
            if request_limit is not None:
                raise UploadRejected(
                    "request_too_many_pixels",
                    _interpolate(_MSG_REQUEST_TOO_MANY_PIXELS, limit=_format_number(request_limit / 1_000_000)),
                )

            fp.armed = bool(ImageFile.LOAD_TRUNCATED_IMAGES)
            try:
                img.load()
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise _too_many_pixels(max_pixels) from None
            except _PIL_ERRORS:
                raise UploadRejected("corrupt", _MSG_CORRUPT_IMAGE) from None
            if fp.hit_eof:
                raise UploadRejected("corrupt", _MSG_CORRUPT_IMAGE)

            try:
                content, out_size = _reencode(img, out_format)
            except _PIL_ERRORS:
                raise UploadRejected("corrupt", _MSG_CORRUPT_IMAGE) from None

    return _result(content, content_type, extension, *out_size)


def _reencode(img: Image.Image, out_format: str) -> tuple[bytes, tuple[int, int]]:
    try:
        # Turn the EXIF orientation into real pixel orientation.
        image = ImageOps.exif_transpose(img)
    except (*_PIL_ERRORS, KeyError, TypeError):
        # Unparseable EXIF: there is no usable orientation, keep the pixels.
        image = img.copy()

    if out_format == "JPEG":
        if image.mode != "RGB":  # L, CMYK, YCbCr...
            image = image.convert("RGB")
        options = {"quality": 90}
    elif out_format == "PNG":
        if image.has_transparency_data and image.mode in {"1", "L", "P", "RGB"}:
            # tRNS transparency lives in image.info, which is cleared below;
            # move it into a real alpha channel instead.
            image = image.convert("RGBA")
        elif image.mode not in _PNG_MODES:
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        options = {}
    else:  # WEBP
        mode = "RGBA" if image.has_transparency_data else "RGB"
        if image.mode != mode:
            image = image.convert(mode)
        options = {"lossless": False, "quality": 90}

    # Some encoders fall back to image.info (PNG: icc_profile, transparency;
    # JPEG: comment), so drop everything the original file brought along.
    image.info = {}

    buffer = io.BytesIO()
    image.save(buffer, format=out_format, **options)
    return buffer.getvalue(), image.size


def _result(content: bytes, content_type: str, extension: str, width, height) -> CleanUpload:
    return CleanUpload(
        content=content,
        content_type=content_type,
        extension=extension,
        width=width,
        height=height,
        sha256=hashlib.sha256(content).hexdigest(),
    )
