"""Issue 7 §3: the request body is capped before it is read, and so are the pixels one request decodes.

A body over REQUEST_MAX_BYTES is refused with 413 from its Content-Length, before
anything reads it (a JSON error under /api/, a page otherwise); a chunked body
without a Content-Length is counted as it is read. All images of one request
together may decode to at most UPLOAD_MAX_REQUEST_PIXELS (a clear 400). gunicorn
limits the request line and headers.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from cards.models import CardUser
from tests import factories, idgen
from tests.images import jpeg_upload

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]


class Unreadable(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def readable(self):
        return True

    def read(self, size=-1):
        raise AssertionError("the body was read")

    readinto = read


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_7_3_api_body_over_the_limit_is_413_before_it_is_read(world, settings):
    settings.REQUEST_MAX_BYTES = 1024
    api = _api(world["users"]["account_manager"])
    response = api.generic(
        "POST",
        "/api/v1/rules/evaluate/",
        b"",
        content_type="application/json",
        CONTENT_LENGTH="5000000",
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "request_too_large" and "MB" in body["detail"]
    assert "no-store" in response["Cache-Control"]


@pytest.mark.zh
def test_7_3_page_body_over_the_limit_is_a_413_page_in_chinese(world, client, settings):
    settings.REQUEST_MAX_BYTES = 1024
    client.force_login(world["users"]["account_manager"])
    response = client.generic(
        "POST",
        reverse("enterprises:create"),
        b"",
        content_type="multipart/form-data",
        CONTENT_LENGTH=str(80 * 1024 * 1024),
        **{"wsgi.input": Unreadable()},
    )
    assert response.status_code == 413
    html = response.content.decode()
    with translation.override("zh-hans"):
        expected = translation.gettext("The request is too large")
    assert expected != "The request is too large" and expected in html


def test_7_3_chunked_body_over_the_limit_is_counted_and_refused(world, settings):
    settings.REQUEST_MAX_BYTES = 1024
    api = _api(world["users"]["account_manager"])
    big = b'{"msisdn": "' + b"1" * 4000 + b'"}'
    response = api.generic(
        "POST",
        "/api/v1/rules/evaluate/",
        b"",
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(big)},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_7_3_chunked_body_under_the_limit_is_read(world, settings):
    settings.REQUEST_MAX_BYTES = 4096
    api = _api(world["users"]["account_manager"])
    body = b'{"msisdn": "14912345678", "data": "none", "voice": "non_directed", "sms": "none"}'
    response = api.generic(
        "POST",
        "/api/v1/rules/evaluate/",
        b"",
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(body)},
    )
    assert response.status_code == 200, response.content
    assert "U2" in response.json()["rules"]


def test_7_3_a_body_within_the_limit_passes(world, settings):
    api = _api(world["users"]["account_manager"])
    response = api.post(
        "/api/v1/rules/evaluate/",
        {"msisdn": "14912345678", "data": "none", "voice": "none", "sms": "none"},
        format="json",
    )
    assert response.status_code == 200


def test_7_3_request_cap_defaults_fit_the_largest_upload():
    from django.conf import settings

    assert settings.REQUEST_MAX_BYTES >= settings.CARD_IMPORT_MAX_BYTES
    assert settings.REQUEST_MAX_BYTES >= settings.DATA_UPLOAD_MAX_MEMORY_SIZE


# --- pixels ------------------------------------------------------------------------


def test_7_3_images_of_one_request_share_one_pixel_budget(world, settings, scripted_face_engine):
    """Issue 7 §3: two photos each under UPLOAD_MAX_PIXELS, together over UPLOAD_MAX_REQUEST_PIXELS: 400."""
    settings.UPLOAD_MAX_PIXELS = 1_000_000
    settings.UPLOAD_MAX_REQUEST_PIXELS = 1_000_000
    enterprise = world["enterprise"]
    card = factories.card(enterprise=enterprise, data="non_directed")
    api = _api(world["users"]["account_manager"])
    body = {
        "enterprise": str(enterprise.public_id),
        "cards": [card.iccid],
        "name": "周九",
        "id_type": "resident_id",
        "id_number": idgen.resident_id(),
        "biometric_consent": "true",
        "id_photo": jpeg_upload("id.jpg", size=(900, 600)),  # 540,000 pixels each
        "live_photo": jpeg_upload("live.jpg", size=(900, 600)),
    }
    response = api.post("/api/v1/card-users/", body, format="multipart")
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "request_too_many_pixels" and error["field"] == "live_photo"
    assert "1 megapixels" in error["detail"]
    assert not CardUser.objects.exists()

    settings.UPLOAD_MAX_REQUEST_PIXELS = 2_000_000
    body["id_photo"], body["live_photo"] = jpeg_upload("id.jpg", size=(900, 600)), jpeg_upload("l.jpg", size=(900, 600))
    assert api.post("/api/v1/card-users/", body, format="multipart").status_code == 201


def test_7_3_the_pixel_budget_is_per_request(settings):
    from core.limits import pixel_budget
    from core.uploads import UploadRejected, sanitize_upload

    settings.UPLOAD_MAX_REQUEST_PIXELS = 100_000
    photo = jpeg_upload(size=(300, 200)).read()  # 60,000 pixels
    with pixel_budget(100_000):
        sanitize_upload(photo)
        with pytest.raises(UploadRejected) as refused:
            sanitize_upload(photo)
        assert refused.value.code == "request_too_many_pixels"
    with pixel_budget(100_000):
        sanitize_upload(photo)  # a new request, a new budget
    # Outside a request (commands, tasks) only the per-image limit applies.
    for _ in range(3):
        sanitize_upload(photo)


# --- gunicorn -----------------------------------------------------------------------


def _gunicorn_commands() -> list[str]:
    dockerfile = (REPO / "Dockerfile").read_text()
    compose = (REPO / "docker-compose.yml").read_text()
    found = [line for line in (dockerfile + compose).splitlines() if "gunicorn" in line and "config.wsgi" in line]
    assert len(found) >= 2, found
    return found


@pytest.mark.parametrize("flag", ["--limit-request-line", "--limit-request-fields", "--limit-request-field_size"])
def test_7_3_gunicorn_limits_the_request_head(flag):
    for command in _gunicorn_commands():
        assert re.search(rf'"{flag}", "\d+"', command), (flag, command)


def test_7_3_readme_names_the_proxy_body_limit():
    readme = (REPO / "README.md").read_text()
    assert "client_max_body_size" in readme and "REQUEST_MAX_BYTES" in readme
