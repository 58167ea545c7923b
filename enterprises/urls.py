from django.urls import path

from enterprises import views

app_name = "enterprises"

urlpatterns = [
    path("", views.enterprise_list, name="list"),
    path("new/", views.enterprise_create, name="create"),
    path("returning/", views.enterprise_returning, name="returning"),
    path("mine/", views.enterprise_mine, name="mine"),
    path("suggest/", views.enterprise_suggest, name="suggest"),
    path("<uuid:public_id>/", views.enterprise_detail, name="detail"),
    path("<uuid:public_id>/reveal/", views.enterprise_reveal, name="reveal"),
    path("<uuid:public_id>/edit/", views.enterprise_edit, name="edit"),
    path("<uuid:public_id>/documents/", views.enterprise_upload, name="upload"),
    path("<uuid:public_id>/change-requests/new/", views.change_request_create, name="change_request"),
]
