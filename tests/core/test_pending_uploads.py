"""Issue 11 §2: files of a form that came back with errors are kept, encrypted, the owner's only, for an hour."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django import forms
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.tasks import purge_pending_uploads
from core import pending_uploads
from core.forms import KeepsUploadsMixin
from core.storage import MAGIC
from enterprises.models import Document, DocumentKind, Enterprise, ResponsiblePerson
from tests import factories, idgen
from tests.images import jpeg_bytes, jpeg_upload

pytestmark = pytest.mark.django_db

OWNER = "user:1"
OTHER = "user:2"


def pending_files() -> list[Path]:
    root = Path(settings.PRIVATE_MEDIA_ROOT) / pending_uploads.FOLDER
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def later(monkeypatch, seconds: float) -> None:
    now = pending_uploads._now()
    monkeypatch.setattr(pending_uploads, "_now", lambda: now + seconds)


# --- the service ------------------------------------------------------------------


def test_a_kept_file_comes_back_to_its_owner_only():
    content = jpeg_bytes()
    token = pending_uploads.pending_upload_keep(owner=OWNER, field="id_photo", upload=jpeg_upload())

    kept = pending_uploads.pending_upload_get(owner=OWNER, token=token)
    assert kept.content == content and kept.kind == pending_uploads.KIND_IMAGE and kept.field == "id_photo"
    upload = kept.as_upload()
    assert upload.read() == content and upload.pending_token == token

    with pytest.raises(pending_uploads.PendingUploadRefused) as refused:
        pending_uploads.pending_upload_get(owner=OTHER, token=token)
    assert refused.value.code == "pending_upload_unknown"
    # Without an owner (an anonymous request) nothing is found either.
    with pytest.raises(pending_uploads.PendingUploadRefused):
        pending_uploads.pending_upload_get(owner="", token=token)


def test_a_kept_file_is_encrypted_and_named_without_its_token():
    content = jpeg_bytes()
    token = pending_uploads.pending_upload_keep(owner=OWNER, field="id_photo", upload=jpeg_upload())

    [path] = pending_files()
    raw = path.read_bytes()
    assert raw.startswith(MAGIC) and content not in raw and b"user:1" not in raw
    assert token not in str(path)
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)


@pytest.mark.parametrize("token", ["", "short", "../../etc/passwd", "x" * 200, "a" * 32])
def test_a_malformed_or_unknown_token_is_refused(token):
    with pytest.raises(pending_uploads.PendingUploadRefused) as refused:
        pending_uploads.pending_upload_get(owner=OWNER, token=token)
    assert refused.value.code == "pending_upload_unknown"


def test_an_expired_file_is_refused_with_a_clear_message_and_deleted(monkeypatch):
    token = pending_uploads.pending_upload_keep(owner=OWNER, field="id_photo", upload=jpeg_upload())
    later(monkeypatch, settings.PENDING_UPLOAD_SECONDS + 1)

    with pytest.raises(pending_uploads.PendingUploadRefused) as refused:
        pending_uploads.pending_upload_get(owner=OWNER, token=token)

    assert refused.value.code == "pending_upload_expired"
    assert "60" in str(refused.value.message)
    assert pending_files() == []


def test_the_purge_deletes_only_what_outlived_its_lifetime(monkeypatch):
    pending_uploads.pending_upload_keep(owner=OWNER, field="a", upload=jpeg_upload())
    assert pending_uploads.pending_uploads_purge() == 0
    assert len(pending_files()) == 1

    later(monkeypatch, settings.PENDING_UPLOAD_SECONDS + 5)
    assert pending_uploads.pending_uploads_purge() == 1
    assert pending_files() == []


def test_nothing_is_kept_without_an_owner_or_over_the_size_limit(settings):
    assert pending_uploads.pending_upload_keep(owner="", field="a", upload=jpeg_upload()) is None
    settings.UPLOAD_MAX_BYTES = 100
    assert pending_uploads.pending_upload_keep(owner=OWNER, field="a", upload=jpeg_upload()) is None
    assert pending_files() == []


def test_discard_deletes_only_the_owners_file():
    token = pending_uploads.pending_upload_keep(owner=OWNER, field="a", upload=jpeg_upload())
    pending_uploads.pending_upload_discard(owner=OTHER, token=token)
    assert len(pending_files()) == 1
    pending_uploads.pending_upload_discard(owner=OWNER, token=token)
    assert pending_files() == []


# --- the form mixin ----------------------------------------------------------------


class PhotoForm(KeepsUploadsMixin, forms.Form):
    name = forms.CharField()
    photo = forms.FileField()


def test_the_mixin_keeps_a_required_photo_and_takes_it_back_by_token():
    content = jpeg_bytes()
    failed = PhotoForm({"name": ""}, {"photo": jpeg_upload()}, uploads_owner=OWNER)

    assert not failed.is_valid() and set(failed.errors) == {"name"}
    [kept] = failed.kept["photo"]
    assert kept.is_image
    # The browser does not insist on a new file: the kept one is sent by token.
    assert "required" not in str(failed["photo"]) and "required" in str(failed["name"])

    again = PhotoForm({"name": "x", "photo__pending": kept.token}, {}, uploads_owner=OWNER)
    assert again.is_valid(), again.errors
    assert again.cleaned_data["photo"].read() == content
    again.uploads_used()
    assert pending_files() == []


def test_the_mixin_keeps_nothing_without_an_owner_and_not_a_field_in_error():
    assert not PhotoForm({"name": ""}, {"photo": jpeg_upload()}).is_valid()
    assert pending_files() == []
    refused = PhotoForm({"name": "x"}, {"photo": SimpleUploadedFile("empty.jpg", b"")}, uploads_owner=OWNER)
    assert not refused.is_valid() and "photo" in refused.errors
    assert refused.kept == {} and pending_files() == []


# --- a portal form: the enterprise registration (E1, P1, P2) -----------------------------


def register_payload(**overrides) -> dict:
    data = {
        "name": "北京保留文件物联有限公司",
        "credential_type": "business_licence",
        "credential_number": idgen.uscc(),
        "credential_address": "北京市海淀区中关村大街1号",
        "credential_files": [jpeg_upload()],
        "responsible_name": "李四",
        "responsible_id_type": "resident_id",
        "responsible_id_number": idgen.resident_id(),
        "responsible_id_address": "北京市海淀区中关村大街2号",
        "responsible_is_legal_representative": "on",
        "responsible_id_files": [jpeg_upload("id-front.jpg"), jpeg_upload("id-back.jpg")],
        "business_reference": "",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def row_counts() -> tuple[int, int, int]:
    return Enterprise.objects.count(), ResponsiblePerson.objects.count(), Document.objects.count()


def tokens(html: str, field: str) -> list[str]:
    return re.findall(rf'name="{field}__pending" value="([^"]+)"', html)


@pytest.fixture
def manager(world):
    return world["users"]["account_manager"]


def failed_registration(client, **overrides):
    """A registration with two errors: no address, no credential address. Its photos are fine."""
    response = client.post(
        reverse("enterprises:create"),
        register_payload(responsible_id_address="", credential_address="", **overrides),
    )
    assert response.status_code == 200
    return response, response.content.decode()


def test_a_failed_form_shows_every_error_and_keeps_its_photos(client, manager):
    client.force_login(manager)
    before = row_counts()

    response, html = failed_registration(client)

    form = response.context["form"]
    assert set(form.errors) == {"responsible_id_address", "credential_address"}
    # Both errors in the summary at the top, each linking to its field, before the first field.
    summary = html[html.index("data-error-summary") : html.index("</ul>", html.index("data-error-summary"))]
    assert 'href="#id_credential_address"' in summary and 'href="#id_responsible_id_address"' in summary
    assert html.index("data-error-summary") < html.index('name="name"')
    assert row_counts() == before
    assert len(tokens(html, "credential_files")) == 1 and len(tokens(html, "responsible_id_files")) == 2
    assert len(pending_files()) == 3
    assert "Already chosen: a photo" in html
    assert "files you chose are not kept" not in html


def test_the_form_sent_again_with_only_the_tokens_succeeds_and_uses_them_up(client, manager):
    client.force_login(manager)
    _response, html = failed_registration(client)
    before = row_counts()

    payload = register_payload(credential_files=None, responsible_id_files=None)
    payload["credential_files__pending"] = tokens(html, "credential_files")
    payload["responsible_id_files__pending"] = tokens(html, "responsible_id_files")
    response = client.post(reverse("enterprises:create"), payload)

    assert response.status_code == 302
    enterprise = Enterprise.objects.get(name="北京保留文件物联有限公司")
    assert enterprise.documents.filter(kind=DocumentKind.CREDENTIAL).count() == 1
    assert enterprise.documents.filter(kind=DocumentKind.RESPONSIBLE_ID).count() == 2
    assert row_counts()[0] == before[0] + 1
    # Stored once, sanitised once (a re-encoded JPEG), and the pending copies are gone.
    assert all(doc.content_type == "image/jpeg" for doc in enterprise.documents.all())
    assert pending_files() == []


def test_a_new_file_replaces_the_kept_one(client, manager):
    client.force_login(manager)
    _response, html = failed_registration(client)

    payload = register_payload(responsible_id_files=None, credential_files=[jpeg_upload("new-licence.jpg")])
    payload["credential_files__pending"] = tokens(html, "credential_files")
    payload["responsible_id_files__pending"] = tokens(html, "responsible_id_files")
    response = client.post(reverse("enterprises:create"), payload)

    assert response.status_code == 302
    enterprise = Enterprise.objects.get(name="北京保留文件物联有限公司")
    assert enterprise.documents.filter(kind=DocumentKind.CREDENTIAL).count() == 1
    assert pending_files() == []


def test_another_users_token_is_refused(client, manager, world, provinces):
    client.force_login(manager)
    _response, html = failed_registration(client)
    stolen = tokens(html, "credential_files")
    other = factories.user(role="account_manager", province=provinces["beijing"], username="am_other")
    client.force_login(other)
    before = row_counts()

    payload = register_payload(credential_files=None)
    payload["credential_files__pending"] = stolen
    response = client.post(reverse("enterprises:create"), payload)

    assert response.status_code == 200
    [error] = response.context["form"].errors.as_data()["credential_files"]
    assert error.code == "pending_upload_unknown"
    assert row_counts() == before
    # The owner's file is still there for its owner.
    assert client.get(reverse("pending_upload_preview", args=[stolen[0]])).status_code == 404


def test_an_expired_token_is_refused_with_a_clear_message(client, manager, monkeypatch):
    client.force_login(manager)
    _response, html = failed_registration(client)
    later(monkeypatch, settings.PENDING_UPLOAD_SECONDS + 1)
    before = row_counts()

    payload = register_payload(credential_files=None)
    payload["credential_files__pending"] = tokens(html, "credential_files")
    response = client.post(reverse("enterprises:create"), payload)

    assert response.status_code == 200
    [error] = response.context["form"].errors.as_data()["credential_files"]
    assert error.code == "pending_upload_expired"
    assert "expired" in response.content.decode()
    assert row_counts() == before


def test_a_service_refusal_keeps_the_files_too(client, manager):
    """The form is valid; the service refuses (a number on the letter path): the files are kept all the same."""
    client.force_login(manager)
    before = row_counts()

    response = client.post(
        reverse("enterprises:create"),
        register_payload(credential_type="official_letter", unit_kind="party_government"),
    )

    assert response.status_code == 200
    assert "credential_number" in response.context["form"].errors
    assert row_counts() == before
    html = response.content.decode()
    assert len(tokens(html, "credential_files")) == 1 and len(tokens(html, "responsible_id_files")) == 2


def test_the_preview_is_the_owners_only_re_encoded_and_never_cached(client, manager):
    client.force_login(manager)
    _response, html = failed_registration(client)
    token = tokens(html, "credential_files")[0]
    url = reverse("pending_upload_preview", args=[token])
    assert url in html and token in url

    preview = client.get(url)
    assert preview.status_code == 200
    assert preview["Content-Type"] == "image/jpeg"
    assert "no-store" in preview["Cache-Control"]
    assert preview["X-Content-Type-Options"] == "nosniff"
    assert b"".join(preview).startswith(b"\xff\xd8")

    client.logout()
    assert client.get(url).status_code == 302  # to the login page


def test_the_beat_task_purges_and_is_scheduled(monkeypatch):
    pending_uploads.pending_upload_keep(owner=OWNER, field="a", upload=jpeg_upload())
    later(monkeypatch, settings.PENDING_UPLOAD_SECONDS + 5)
    assert purge_pending_uploads() == 1
    assert pending_files() == []
    assert settings.CELERY_BEAT_SCHEDULE["accounts-purge-pending-uploads"]["task"] == purge_pending_uploads.name
