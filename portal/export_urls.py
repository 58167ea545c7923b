"""The export pages, under /exports/ (namespace "exports")."""

from django.urls import path

from portal import export_views as views

app_name = "exports"

urlpatterns = [
    path("<uuid:public_id>/", views.export_detail, name="detail"),
    path("<uuid:public_id>/progress/", views.export_progress, name="progress"),
    path("<uuid:public_id>/download/", views.export_download, name="download"),
    path("<slug:name>/", views.export_list, name="list"),
]
