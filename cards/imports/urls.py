"""Portal pages of the bulk card import, under /cards/imports/ (namespace "card_imports")."""

from django.urls import path

from cards.imports import views as views_import

app_name = "card_imports"

urlpatterns = [
    path("", views_import.import_new, name="new"),
    path("list/", views_import.import_list, name="list"),
    path("template.csv", views_import.template_csv, name="template_csv"),
    path("template.xlsx", views_import.template_xlsx, name="template_xlsx"),
    path("<uuid:public_id>/", views_import.import_detail, name="detail"),
    path("<uuid:public_id>/errors.csv", views_import.import_errors_csv, name="errors_csv"),
]
