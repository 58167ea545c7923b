"""Staff pages of self-service links, under /cards/self-service/ (namespace "self_service")."""

from django.urls import path

from cards.self_service import handover_views, views

app_name = "self_service"

urlpatterns = [
    path("enterprise/<uuid:public_id>/", views.link_list, name="list"),
    path("<uuid:public_id>/revoke/", views.link_revoke, name="revoke"),
    path("<uuid:public_id>/renew/", views.link_renew, name="renew"),
    path("handover/", handover_views.handover_create, name="handover_create"),
    path("handover/<uuid:public_id>/progress/", handover_views.handover_progress, name="handover_progress"),
    path("handover/<uuid:public_id>/take-back/", handover_views.handover_take_back, name="handover_take_back"),
]
