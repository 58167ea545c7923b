"""Age buckets: "waiting 1 to 3 days", as one filter that a dashboard's count and the list it links to share.

A bucket is a half-open range of ages [lower, upper) measured from a timestamp column back from `now`.
The dashboard counts each bucket with `bucket_q` and the list filters by the same `bucket_q`, so the
figure on the tile is the length of the list behind it.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class AgeBucket:
    key: str  # what the list's ?age= parameter says
    label: StrOrPromise
    lower: datetime.timedelta
    upper: datetime.timedelta | None = None  # None: no upper bound
    tone: str = "0"


def bucket_q(field: str, bucket: AgeBucket, now: datetime.datetime) -> Q:
    """Rows whose `field` lies `bucket` back from `now`: older than `lower`, not older than `upper`."""
    condition = Q(**{f"{field}__lte": now - bucket.lower})
    if bucket.upper is not None:
        condition &= Q(**{f"{field}__gt": now - bucket.upper})
    return condition


def bucket_named(buckets: Sequence[AgeBucket], key: object) -> AgeBucket | None:
    """The bucket a ?age= parameter names, or None for an unknown or empty one."""
    return next((bucket for bucket in buckets if bucket.key == key), None)


__all__ = ["AgeBucket", "bucket_named", "bucket_q"]
