"""What the list pages' search boxes share: the shape of a search, and the session-held search token.

A personal ID number typed into a search box must never reach a URL (access logs, browser history,
the Referer of the next request). The card users' search box therefore posts; the view keeps the
search in the session under a short-lived random token and redirects to `?s=<token>`. The token
names nothing: without this session it finds nothing, and it expires.
"""

from __future__ import annotations

import datetime
import re
import secrets
import time
import unicodedata

from django.db.models import Q
from django.http import HttpRequest
from stdnum.iso7064 import mod_11_2

from core.identity import mask_identifier

SEARCH_MAX_LENGTH = 64
SEARCH_TOKEN_SECONDS = 15 * 60
SEARCH_TOKENS_KEPT = 10
_SESSION_KEY = "search_tokens"


def clean_search(raw: object) -> str:
    """A search as typed, trimmed and cut to a sane length (a search box is not a place for essays)."""
    # Control characters (a NUL above all, which PostgreSQL refuses in a string) are no part of a search.
    text = "".join(char for char in str(raw or "") if unicodedata.category(char) != "Cc" or char.isspace())
    return " ".join(text.split())[:SEARCH_MAX_LENGTH]


def digits_prefix(field: str, digits: str) -> Q:
    """Rows whose `field` (a column of digits: the ICCID) starts with `digits`, as the range [digits, the next
    prefix): a btree index on (scope, field) serves a range, but serves LIKE only under the "C" collation
    (PostgreSQL's C.UTF-8 is not that), so a LIKE search within an enterprise read all its cards' index
    entries (43.9 ms against 13.9 at 1M cards, issue 12 §1.6). Digits order alike in every collation, so the
    range holds exactly the rows the LIKE would keep. The range alone, not the range and the LIKE: the
    planner multiplies their selectivities as if they were independent, estimated one row where 500 match
    at 10M cards, and joined the enterprises by a scan per row (9.9 ms against 1.5 ms for the range alone).
    A prefix of 9s alone has no bound above, and stays a LIKE (served by the pattern index)."""
    # The next prefix: the last digit below 9 raised, the 9s after it dropped ("8986999" -> "8987").
    stem = digits.rstrip("9")
    if not stem:
        return Q(**{f"{field}__startswith": digits, f"{field}__gte": digits})
    return Q(**{f"{field}__gte": digits, f"{field}__lt": stem[:-1] + str(int(stem[-1]) + 1)})


def looks_like_id_number(value: str) -> bool:
    """A search that may be a personal document number: letters and digits only, at least 6 digits
    and 8 characters (the shortest passports). Such a search is matched through the blind index and
    kept out of URLs; anything else is a name."""
    compact = "".join(value.split())
    return len(compact) >= 8 and compact.isalnum() and compact.isascii() and sum(c.isdigit() for c in compact) >= 6


def shown_search(value: str) -> str:
    """The search as the page may show it back: a number masked as everywhere else."""
    if masked_id_candidates(value) is not None:
        return "".join(value.split()).upper()
    return mask_identifier("".join(value.split())) if looks_like_id_number(value) else value


# An 18-character ID number as the lists show it (core.identity.mask_identifier): the area code, eight
# stars where the birth date is, the sequence number and the check digit.
_MASKED_ID18 = re.compile(r"^(\d{6})\*{8}(\d{3})([\dX])$")
_FIRST_BIRTH_DATE = datetime.date(1900, 1, 1)


def masked_id_candidates(value: str) -> list[str] | None:
    """The 18-character numbers that show as `value` (110105********0159), or None when it is no such
    mask. The hidden part is a birth date, and the check digit rules out ten in eleven of them: some
    four thousand candidates, each then matched through the blind index. The search finds only people
    the user may already see, and shows them masked, so it tells no one more than the list does."""
    match = _MASKED_ID18.match("".join(value.split()).upper())
    if not match:
        return None
    area, sequence, check = match.groups()
    found = []
    day = _FIRST_BIRTH_DATE
    last = datetime.date.today()
    while day <= last:
        first17 = f"{area}{day:%Y%m%d}{sequence}"
        if mod_11_2.calc_check_digit(first17) == check:
            found.append(first17 + check)
        day += datetime.timedelta(days=1)
    return found


def stash_search(request: HttpRequest, value: str) -> str:
    """Keep `value` in the session under a fresh token and return the token."""
    now = time.time()
    tokens = {
        token: entry
        for token, entry in dict(request.session.get(_SESSION_KEY, {})).items()
        if isinstance(entry, dict) and entry.get("expires", 0) > now
    }
    token = secrets.token_urlsafe(12)
    tokens[token] = {"q": value, "expires": now + SEARCH_TOKEN_SECONDS}
    # The newest few only: a session is not a search history.
    newest = sorted(tokens.items(), key=lambda item: item[1]["expires"])[-SEARCH_TOKENS_KEPT:]
    request.session[_SESSION_KEY] = dict(newest)
    return token


def stashed_search(request: HttpRequest, token: object) -> str | None:
    """The search kept under `token` in this session, or None when it is unknown or has expired."""
    entry = dict(request.session.get(_SESSION_KEY, {})).get(str(token or ""))
    if not isinstance(entry, dict) or entry.get("expires", 0) <= time.time():
        return None
    return str(entry.get("q", ""))
