from __future__ import annotations

from django import forms

from core.errors import PAGE_ERRORS, DomainError


def add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Show a service's refusal on the form: on its field when the form has it.

    A refusal about the page itself (not found, not allowed) is no form error: it is raised again, for
    core.middleware.DomainErrorMiddleware to answer with the 404 or 403 page.
    """
    if isinstance(exc, PAGE_ERRORS):
        raise exc
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, forms.ValidationError(exc.message, code=exc.code))
