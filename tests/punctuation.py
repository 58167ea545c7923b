"""One check for Chinese punctuation (issue 11 §5), shared by the catalogue test and the browser walks."""

from __future__ import annotations

import re

# An ASCII comma, full stop, semicolon or colon right after a Chinese character ("老客户." "企业信息, 责任人.");
# numbers and codes keep theirs.
ASCII_AFTER_CHINESE = re.compile(r"[\u4e00-\u9fff][,.;:]")


def ascii_punctuation_after_chinese(text: str) -> list[str]:
    """Each offending spot with a few characters around it, to read in a failure message."""
    return [text[max(0, m.start() - 8) : m.end() + 8] for m in ASCII_AFTER_CHINESE.finditer(text)]
