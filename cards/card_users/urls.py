"""Portal pages of card users under /cards/card-users/; included by cards.urls into the "cards" namespace."""

from django.urls import path

from cards.card_users import views

urlpatterns = [
    path("card-users/", views.card_user_list, name="card_user_list"),
    path("card-users/new/", views.card_user_create, name="card_user_create"),
    path("card-users/<uuid:public_id>/", views.card_user_detail, name="card_user_detail"),
    # The person behind a registration: reached through the registration's opaque id, never the ID number.
    path("card-users/<uuid:public_id>/person/", views.card_user_person, name="card_user_person"),
    path("card-users/<uuid:public_id>/retake/", views.card_user_retake_page, name="card_user_retake"),
    path(
        "card-users/<uuid:public_id>/send-to-review/",
        views.card_user_send_to_review_page,
        name="card_user_send_to_review",
    ),
    path("card-users/<uuid:public_id>/reveal/", views.card_user_reveal, name="card_user_reveal"),
    path("card-users/<uuid:public_id>/photos/<str:kind>/", views.card_user_photo, name="card_user_photo"),
]
