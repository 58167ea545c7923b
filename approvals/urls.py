from django.urls import path

from approvals import views

app_name = "approvals"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("exemptions/", views.my_requests, name="my_requests"),
    path("exemptions/new/", views.exemption_new, name="exemption_new"),
    path("exemptions/<uuid:public_id>/", views.exemption_detail, name="exemption_detail"),
    path("exemptions/<uuid:public_id>/decide/", views.exemption_decide, name="exemption_decide"),
    path("exemptions/<uuid:public_id>/withdraw/", views.exemption_withdraw, name="exemption_withdraw"),
    path("exemptions/<uuid:public_id>/attachments/<int:pk>/", views.attachment_download, name="attachment"),
    path("reviews/", views.review_queue, name="review_queue"),
    path("reviews/<uuid:public_id>/", views.review_detail, name="review_detail"),
    path("reviews/<uuid:public_id>/photos/<str:which>/", views.verification_photo, name="verification_photo"),
    path("change-requests/<uuid:public_id>/", views.change_request_detail, name="change_request_detail"),
]
