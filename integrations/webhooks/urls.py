"""Portal pages of callback endpoints, under /platform/webhooks/ (namespace "webhooks")."""

from django.urls import path

from integrations.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("enterprise/<uuid:public_id>/", views.endpoint_list, name="list"),
    path("<str:public_id>/", views.endpoint_detail, name="detail"),
    path("<str:public_id>/edit/", views.endpoint_edit, name="edit"),
    path("<str:public_id>/disable/", views.endpoint_disable, name="disable"),
    path("<str:public_id>/enable/", views.endpoint_enable, name="enable"),
    path("<str:public_id>/delete/", views.endpoint_delete, name="delete"),
    path("<str:public_id>/test/", views.send_test, name="test"),
    path("<str:public_id>/deliveries/<str:attempt_id>/resend/", views.delivery_resend, name="resend"),
]
