"""/api/v1/ routes of the order API (included under the "api" namespace).

Ids are plain strings: a malformed id reaches the selector and gets the same
JSON 404 as an order the user may not see.
"""

from django.urls import path

from cards.orders import api as api_orders

urlpatterns = [
    path("orders/", api_orders.OrderListCreateView.as_view(), name="order-list"),
    path("orders/<str:public_id>/", api_orders.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<str:public_id>/live-photo/", api_orders.OrderLivePhotoView.as_view(), name="order-live-photo"),
]
