"""/api/v1/ routes of the bulk card import (included under the "api" namespace).

Ids are matched as plain strings: a malformed id reaches the selector and gets
the same JSON 404 as an id the user may not see.
"""

from django.urls import path

from cards.imports import api as api_import

urlpatterns = [
    path("card-imports/", api_import.CardImportListCreateView.as_view(), name="card-import-list"),
    # Before <public_id>/, so that the template names are never taken for an id.
    path("card-imports/template.csv", api_import.CardImportTemplateCsvView.as_view(), name="card-import-template-csv"),
    path(
        "card-imports/template.xlsx", api_import.CardImportTemplateXlsxView.as_view(), name="card-import-template-xlsx"
    ),
    path("card-imports/<str:public_id>/", api_import.CardImportDetailView.as_view(), name="card-import-detail"),
    path(
        "card-imports/<str:public_id>/errors.csv", api_import.CardImportErrorsView.as_view(), name="card-import-errors"
    ),
]
