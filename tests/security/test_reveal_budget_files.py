"""Issue 7 §2.2: downloads of personal-data files count against the one reveal budget.

An ID-card image, a card user's photos, a face-review photo, an order's handler
photos, a credential or letter and an approval form each show an ID or a
credential in full. Every route that serves one (pages, API, and the approver desk
and Django admin, which link to those pages) spends one full view of the budget
that revealing a number spends (PII_REVEAL_RATE, accounts.throttling), and is
logged. When the budget is spent a page answers 429 with the Chinese message and
the API 429 JSON `throttled`, both with Retry-After.

And the routes agree on who may open card-user photos: the face-review photo route
served them to the enterprise's admin (`admin_bj`), whom the card-user photo route
refuses (Capability.VIEW_FULL_PII: only roles that may see personal
data in full).
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from accounts.models import PiiAccessLog
from accounts.throttling import PiiRevealThrottle
from enterprises.models import Document
from tests import factories
from tests.approvals import file_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_reveal(monkeypatch):
    monkeypatch.setattr(PiiRevealThrottle, "THROTTLE_RATES", {"pii_reveal": "1/hour"})


@pytest.fixture
def files(world, scripted_face_engine):
    """One of every personal-data file, in the Beijing enterprise."""
    manager = world["users"]["account_manager"]
    enterprise = world["enterprise"]
    card = factories.card(enterprise=enterprise, data="non_directed")
    card_user_check = factories.card_user_registration(actor=manager, enterprise=enterprise, cards=[card])
    order = factories.order(
        actor=manager,
        enterprise=enterprise,
        business_type="new_installation",
        cards=[factories.order_stock_card(enterprise=enterprise)],
    )
    exemption = file_request(
        actor=manager,
        enterprise=enterprise,
        cards=[factories.card(enterprise=enterprise, data="non_directed")],
        levels=["province"],
    )
    return {
        "document": Document.objects.filter(enterprise=enterprise).first(),
        "card_user": card_user_check.card_user,
        "card_user_check": card_user_check,
        "handler_check": order.verifications.get(),
        "order": order,
        "exemption": exemption,
        "attachment": exemption.attachments.get(),
    }


def page_routes(files) -> dict[str, str]:
    return {
        "document": reverse("documents:download", args=[files["document"].public_id]),
        "card_user_photo": reverse("cards:card_user_photo", args=[files["card_user"].public_id, "id_photo"]),
        "order_photo": reverse("orders:photo", args=[files["order"].public_id, "id"]),
        "review_photo": reverse("approvals:verification_photo", args=[files["card_user_check"].public_id, "live"]),
        "approval_form": reverse("approvals:attachment", args=[files["exemption"].public_id, files["attachment"].pk]),
    }


def api_routes(files) -> dict[str, str]:
    return {
        "document": f"/api/v1/documents/{files['document'].public_id}/download/",
        "card_user_photo": f"/api/v1/card-users/{files['card_user'].public_id}/photos/live_photo/",
    }


def _drain(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _throttled_text() -> str:
    with translation.override("zh-hans"):
        text = translation.gettext("Too many full views of personal data. Try again in %(minutes)d minute.")
    return text.split("%")[0].strip()


def _user_for(route: str, world):
    # The face-review photo is for the reviewers; every other file the account manager opens.
    return world["users"]["provincial_approver" if route == "review_photo" else "account_manager"]


@pytest.mark.zh
@pytest.mark.parametrize("route", ["document", "card_user_photo", "order_photo", "review_photo", "approval_form"])
def test_7_2_2_page_downloads_spend_the_reveal_budget(route, world, files, client, one_reveal):
    """Issue 7 §2.2: the second download in the hour is refused: 429, the Chinese message, Retry-After."""
    client.force_login(_user_for(route, world))
    url = page_routes(files)[route]
    first = client.get(url)
    assert first.status_code == 200, (route, first.status_code)
    _drain(first)
    logged = PiiAccessLog.objects.count()
    assert logged >= 1

    second = client.get(url)
    assert second.status_code == 429, (route, second.status_code)
    assert 0 < int(second["Retry-After"]) <= 3600
    assert "no-store" in second["Cache-Control"]
    html = second.content.decode()
    expected = _throttled_text()
    assert expected and expected != "Too many full views of personal data. Try again in" and expected in html
    assert PiiAccessLog.objects.count() == logged, "a refused download is no full view"


@pytest.mark.parametrize("route", ["document", "card_user_photo"])
def test_7_2_2_api_downloads_spend_the_reveal_budget(route, world, files, one_reveal):
    api = APIClient()
    api.force_authenticate(world["users"]["account_manager"])
    url = api_routes(files)[route]
    first = api.get(url)
    assert first.status_code == 200, (route, first.status_code)
    _drain(first)
    second = api.get(url)
    assert second.status_code == 429
    assert second.json()["code"] == "throttled" and second.json()["detail"]
    assert int(second["Retry-After"]) > 0


def test_7_2_2_downloads_and_reveals_share_one_budget(world, files, client, one_reveal):
    """A reveal through the API spends the budget the page download then lacks, and the other way round."""
    manager = world["users"]["account_manager"]
    api = APIClient()
    api.force_authenticate(manager)
    reveal = f"/api/v1/enterprises/{world['enterprise'].public_id}/reveal/"
    assert api.post(reveal, {"field": "credential_number"}, format="json").status_code == 200
    client.force_login(manager)
    assert client.get(page_routes(files)["document"]).status_code == 429
    assert api.get(api_routes(files)["card_user_photo"]).status_code == 429


def test_7_2_2_the_budget_is_per_user(world, files, client, one_reveal):
    client.force_login(world["users"]["account_manager"])
    _drain(client.get(page_routes(files)["document"]))
    assert client.get(page_routes(files)["document"]).status_code == 429
    other = world["users"]["enterprise_admin"]  # the enterprise's own admin may open its documents
    client.force_login(other)
    assert client.get(page_routes(files)["document"]).status_code == 200


def test_7_2_2_approval_form_downloads_are_logged(world, files, client):
    client.force_login(world["users"]["provincial_approver"])
    response = client.get(page_routes(files)["approval_form"])
    assert response.status_code == 200
    _drain(response)
    assert PiiAccessLog.objects.filter(object_id=str(files["attachment"].pk), field="file").count() == 1


def test_7_2_2_the_approver_desk_links_to_the_counted_routes(world, files, client):
    """The approver desk (/approvals/admin/) shows the photos through the counted route, never its own."""
    from verification.services import verification_record_result

    check = files["card_user_check"]
    from verification.models import Verification, VerificationStatus

    Verification.objects.filter(pk=check.pk).update(status=VerificationStatus.PENDING)
    verification_record_result(verification=Verification.objects.get(pk=check.pk), outcome="review", distance=0.55)
    client.force_login(world["users"]["provincial_approver"])
    page = client.get(reverse("approvals_admin:verification_verification_change", args=[check.pk]))
    assert page.status_code == 200, page.status_code
    html = page.content.decode()
    assert reverse("approvals:verification_photo", args=[check.public_id, "id"]) in html


# --- the routes agree on card-user photos (admin_bj) ---------------------------------------


def test_7_2_2_enterprise_admin_gets_no_card_user_photo_from_either_route(world, files, client):
    """Issue 7 §2.2: the face-review photo route served admin_bj the card user's photos that the
    card-user photo route refuses. Both refuse now (only roles that may see personal data in full)."""
    admin = world["users"]["enterprise_admin"]
    client.force_login(admin)
    card_user_route = client.get(page_routes(files)["card_user_photo"])
    review_route = client.get(page_routes(files)["review_photo"])
    review_id = client.get(reverse("approvals:verification_photo", args=[files["card_user_check"].public_id, "id"]))
    assert (card_user_route.status_code, review_route.status_code, review_id.status_code) == (403, 403, 403)
    api = APIClient()
    api.force_authenticate(admin)
    assert api.get(api_routes(files)["card_user_photo"]).status_code == 403
    assert not PiiAccessLog.objects.filter(actor=admin).exists()


def test_7_2_2_handler_photos_agree_too(world, files, client):
    """The handler's photos: the order route and the face-review route give the enterprise's admin the same."""
    client.force_login(world["users"]["enterprise_admin"])
    order_route = client.get(reverse("orders:photo", args=[files["order"].public_id, "live"]))
    review_route = client.get(reverse("approvals:verification_photo", args=[files["handler_check"].public_id, "live"]))
    assert order_route.status_code == review_route.status_code == 200
    client.force_login(world["users"]["enterprise_admin_other_enterprise"])
    order_route = client.get(reverse("orders:photo", args=[files["order"].public_id, "live"]))
    review_route = client.get(reverse("approvals:verification_photo", args=[files["handler_check"].public_id, "live"]))
    assert order_route.status_code == 404 and review_route.status_code == 404


def test_7_2_2_reviewers_and_full_view_roles_open_card_user_photos_on_both_routes(world, files, client):
    for role in ("account_manager", "provincial_approver"):
        client.force_login(world["users"][role])
        assert client.get(page_routes(files)["card_user_photo"]).status_code == 200, role
        assert client.get(page_routes(files)["review_photo"]).status_code == 200, role
