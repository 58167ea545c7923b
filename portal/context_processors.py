from accounts.notifications import unread_count
from portal.navigation import menu_for


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    return {"nav_items": menu_for(user), "unread_notices": unread_count(user)}
