"""Order pages, mounted at /orders/ (namespace "orders")."""

from django.urls import path

from cards.orders import views

app_name = "orders"

urlpatterns = [
    path("", views.order_list, name="list"),
    path("new/", views.order_new, name="new"),
    path("new/handler/", views.order_new_handler, name="new_handler"),
    path("new/details/", views.order_new_details, name="new_details"),
    path("new/cancel/", views.order_new_cancel, name="new_cancel"),
    path("<uuid:public_id>/", views.order_detail, name="detail"),
    path("<uuid:public_id>/live-photo/", views.order_retake, name="retake"),
    path("<uuid:public_id>/send-to-review/", views.order_send_to_review, name="send_to_review"),
    path("<uuid:public_id>/photos/<str:kind>/", views.order_photo, name="photo"),
]
