"""QR codes of a link's URL (segno, pure Python), as SVG and PNG."""

from __future__ import annotations

import io

import segno

SVG_TYPE = "image/svg+xml"
PNG_TYPE = "image/png"


def _code(url: str) -> segno.QRCode:
    # Level M survives a creased or partly covered poster and keeps the code small enough to scan from afar.
    return segno.make(url, error="m", micro=False)


def qr_svg(url: str, *, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    _code(url).save(buffer, kind="svg", scale=scale, border=4, xmldecl=False, title="QR")
    return buffer.getvalue()


def qr_png(url: str, *, scale: int = 10) -> bytes:
    buffer = io.BytesIO()
    _code(url).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


__all__ = ["PNG_TYPE", "SVG_TYPE", "qr_png", "qr_svg"]
