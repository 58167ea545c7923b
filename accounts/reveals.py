"""Serving a stored file that shows personal data in full (issue 7 §2.2, DESIGN §3).

An ID-card image, a card user's photos, a face-review photo, a handler's photos,
a credential, a letter or an approval form shows an ID or a credential in full,
as a revealed number does. So every route that serves one (pages and API; the
approver desk and the Django admin only link to those pages) comes here: the
caller has checked who may open it, this spends one full view of the user's
reveal budget (accounts.throttling, PII_REVEAL_RATE), logs it, and sends the
file never cached, never sniffed, never run.
"""

from __future__ import annotations

import logging
import mimetypes

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.services import pii_view_log
from accounts.throttling import reveal_budget_spend
from core.errors import NotFound
from core.http import private_file_response

logger = logging.getLogger(__name__)

MSG_FILE_MISSING = _("The file is not available.")


def personal_file_response(
    request,
    *,
    obj: models.Model,
    field: str,
    field_file,
    filename: str,
    as_attachment: bool,
    content_type: str | None = None,
):
    """The stored file of `obj.field`, as one budgeted and logged full view.

    Raises Throttled when the budget is spent and NotFound (code file_missing) when
    there is no file; the API renders both, pages turn them into 429 and 404.
    """
    if not field_file:
        raise NotFound(MSG_FILE_MISSING, code="file_missing")
    reveal_budget_spend(request)
    try:
        handle = field_file.storage.open(field_file.name, "rb")
    except (OSError, ValueError):
        # Names are opaque ids, never personal data.
        logger.error("Stored file %s of %s is missing", field_file.name, obj._meta.label)
        raise NotFound(MSG_FILE_MISSING, code="file_missing") from None
    pii_view_log(actor=request.user, obj=obj, field=field, request=request)
    content_type = content_type or mimetypes.guess_type(field_file.name)[0] or "application/octet-stream"
    return private_file_response(handle, content_type=content_type, filename=filename, as_attachment=as_attachment)
