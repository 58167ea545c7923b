"""Per-request budgets (issue 7 §3).

Each image is limited on its own (UPLOAD_MAX_PIXELS), but a request with many
small files that each decode to that limit would still cost minutes of CPU and
gigabytes of memory. So every web request gets one pixel budget
(UPLOAD_MAX_REQUEST_PIXELS, set by core.middleware.RequestLimitsMiddleware)
that all the images it makes the server decode draw on. Outside a request
(commands, tasks) there is no budget: their input was accepted by a request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class PixelBudget:
    limit: int
    spent: int = 0


_budget: ContextVar[PixelBudget | None] = ContextVar("pixel_budget", default=None)


@contextlib.contextmanager
def pixel_budget(limit: int) -> Iterator[PixelBudget]:
    budget = PixelBudget(limit=limit)
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


def spend_pixels(pixels: int) -> int | None:
    """Draw `pixels` from the current request's budget: None if they fit, else the budget's limit."""
    budget = _budget.get()
    if budget is None:
        return None
    if budget.spent + pixels > budget.limit:
        return budget.limit
    budget.spent += pixels
    return None
