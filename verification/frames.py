"""The frames of a live capture as one contact sheet, for the reviewer (issue 9 §3).

A capture that did not prove presence (inconclusive, or locked after failures) goes to a provincial approver,
who compares the frames with the ID photo. They are kept as one JPEG, thumbnails in capture order, left to
right and then down: one stored file, so one budgeted and logged view (accounts.reveals) rather than fifteen.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, UnidentifiedImageError

THUMB_HEIGHT = 180
COLUMNS = 5
GAP = 4


def contact_sheet(frames: Sequence[bytes]) -> bytes:
    """The frames side by side (b"" when none can be read); each thumbnail keeps its aspect ratio."""
    thumbs: list[Image.Image] = []
    for data in frames:
        try:
            with Image.open(io.BytesIO(data)) as opened:
                rgb = opened.convert("RGB")
            width = max(1, round(rgb.width * THUMB_HEIGHT / max(1, rgb.height)))
            thumbs.append(rgb.resize((width, THUMB_HEIGHT)))
        except (UnidentifiedImageError, OSError, ValueError):
            continue  # a frame the check could not read either: the others still show the capture
    if not thumbs:
        return b""
    cell = max(thumb.width for thumb in thumbs)
    columns = min(COLUMNS, len(thumbs))
    rows = -(-len(thumbs) // columns)
    sheet = Image.new("RGB", (columns * cell + (columns - 1) * GAP, rows * THUMB_HEIGHT + (rows - 1) * GAP), "white")
    for index, thumb in enumerate(thumbs):
        row, column = divmod(index, columns)
        sheet.paste(thumb, (column * (cell + GAP), row * (THUMB_HEIGHT + GAP)))
    buffer = io.BytesIO()
    sheet.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


__all__ = ["contact_sheet"]
