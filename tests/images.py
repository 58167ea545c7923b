"""Test images made with Pillow, so no personal photo is ever committed."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw


def jpeg_bytes(size=(320, 200), color=(200, 180, 150), text="证件") -> bytes:
    image = Image.new("RGB", size, color)
    ImageDraw.Draw(image).rectangle([10, 10, size[0] // 2, size[1] // 2], outline=(20, 20, 20), width=3)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def jpeg_upload(name: str = "licence.jpg", **kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg_bytes(**kwargs), content_type="image/jpeg")


def pdf_bytes(pages: int = 1) -> bytes:
    """A plain, well-formed PDF (pikepdf), as a scanner or a word processor writes one."""
    import pikepdf

    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(595, 842))
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def pdf_upload(name: str = "letter.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, pdf_bytes(), content_type="application/pdf")
