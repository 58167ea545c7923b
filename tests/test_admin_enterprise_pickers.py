"""No admin form renders a <select> of every enterprise (issue 12 §1.2): an editable enterprise foreign key is an
autocomplete over EnterpriseAdmin's search_fields, or read-only."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory

from accounts.models import User
from approvals.admin import approvals_site
from enterprises.models import Enterprise

SITES = [admin.site, approvals_site]


def _enterprise_keys(model) -> list[str]:
    return [
        field.name
        for field in model._meta.get_fields()
        if field.many_to_one and field.concrete and field.related_model is Enterprise
    ]


@pytest.mark.django_db
def test_every_editable_enterprise_key_in_the_admins_is_an_autocomplete():
    request = RequestFactory().get("/")
    request.user = User(is_superuser=True, is_staff=True)
    checked = 0
    for site in SITES:
        for model, model_admin in site._registry.items():
            for name in _enterprise_keys(model):
                readonly = set(model_admin.get_readonly_fields(request))
                editable = model_admin.has_add_permission(request) or model_admin.has_change_permission(request)
                if not editable or name in readonly:
                    continue
                checked += 1
                assert name in model_admin.autocomplete_fields or name in model_admin.raw_id_fields, (model, name)
    assert checked >= 2  # users and role grants pick an enterprise
    assert "name" in admin.site._registry[Enterprise].search_fields[0]
