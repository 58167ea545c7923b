"""Portal pages for cards and card users, under /cards/ (namespace "cards").

One namespace for both sub-domains: the page names (cards:detail, cards:card_user_detail, ...) stay
what templates and reverse() have always used.
"""

from cards.card_users.urls import urlpatterns as card_user_urlpatterns
from cards.inventory.urls import urlpatterns as card_urlpatterns

app_name = "cards"

# Card users first: their paths start with "card-users/", which the card paths (digits only) never match.
urlpatterns = [*card_user_urlpatterns, *card_urlpatterns]
