"""Issue 7 §3: a refused or failed write leaves no file behind (core.files.atomic_with_files).

Every service that stores files in a transaction removes them when the transaction
does not commit, the files of the services it calls included: a card-user
registration (its photos and its verification's), an order (handler photos, its
verification, the enterprise's fresh documents), enterprise documents, change
requests, exemption attachments and card imports.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError

from cards.models import CardUser, Order
from core.errors import DomainError
from core.pending_uploads import FOLDER as KEPT  # a form's files kept for its next submit (issue 11 §2)
from enterprises.models import Document
from tests import factories
from tests.approvals import attachments_for
from tests.images import jpeg_upload
from verification.models import Verification

pytestmark = pytest.mark.django_db


def private_files() -> set[Path]:
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    return {path for path in root.rglob("*") if path.is_file() and KEPT not in path.parts} if root.exists() else set()


def fail_on(monkeypatch, target: str, action: str | None = None):
    """Make `target` (an audit_record) raise a database error, for one action or for all."""
    from accounts.services import audit_record

    def failing(**kwargs):
        if action is None or kwargs.get("action") == action:
            raise OperationalError("injected after the files were written")
        return audit_record(**kwargs)

    monkeypatch.setattr(target, failing)


def test_7_3_failed_card_user_registration_leaves_no_photo(world, scripted_face_engine, monkeypatch):
    """Issue 7 §3: the registration fails after its 4 photos (2 card user, 2 verification) were written."""
    card = factories.card(enterprise=world["enterprise"], data="non_directed")
    before = private_files()
    fail_on(monkeypatch, "verification.services.audit_record")
    with pytest.raises(OperationalError):
        factories.card_user_registration(
            actor=world["users"]["account_manager"], enterprise=world["enterprise"], cards=[card]
        )
    assert private_files() == before
    assert not CardUser.objects.exists() and not Verification.objects.exists()


def test_7_3_card_user_refused_by_the_five_card_check_leaves_no_photo(world, scripted_face_engine):
    """Issue 7 §3 / U6: the sixth card of one ID is refused, and nothing of it stays on disk."""
    from tests import idgen

    number = idgen.resident_id()
    manager = world["users"]["account_manager"]
    cards = [factories.card(enterprise=world["enterprise"], data="non_directed") for _ in range(6)]
    factories.verified_card_user(actor=manager, enterprise=world["enterprise"], cards=cards[:5], id_number=number)
    before = private_files()
    with pytest.raises(DomainError) as refused:
        factories.card_user_registration(
            actor=manager, enterprise=world["enterprise"], cards=[cards[5]], id_number=number
        )
    assert refused.value.code
    assert private_files() == before
    assert CardUser.objects.count() == 1


def test_7_3_failed_verification_leaves_no_photo(world):
    """The row is refused by the database (a check constraint: no subject) after its photos were written."""
    from django.db import IntegrityError

    from core.uploads import sanitize_upload
    from verification.models import VerificationPurpose
    from verification.services import verification_create

    clean = sanitize_upload(jpeg_upload())
    before = private_files()
    with pytest.raises(IntegrityError):
        verification_create(
            actor=None,
            purpose=VerificationPurpose.CARD_USER,
            enterprise=world["enterprise"],
            id_photo=clean,
            live_photo=clean,
        )
    assert private_files() == before


def test_7_3_failed_order_leaves_no_photo_and_no_document(world, monkeypatch):
    """Issue 7 §3: an order fails after its handler photos and the enterprise's fresh documents were
    written (the documents by enterprises.services, inside the order's transaction)."""
    manager = world["users"]["account_manager"]
    card = factories.order_stock_card(enterprise=world["enterprise"])
    documents = Document.objects.count()
    before = private_files()

    def broken(**kwargs):
        raise OperationalError("injected after the files were written")

    monkeypatch.setattr("cards.orders.services.order_complete", broken)
    with pytest.raises(OperationalError):
        factories.order(
            actor=manager,
            enterprise=world["enterprise"],
            business_type="cancellation",
            cards=[card],
            credential_photo=[jpeg_upload("fresh-licence.jpg")],
            responsible_id_photo=[jpeg_upload("fresh-id.jpg")],
        )
    assert private_files() == before
    assert Document.objects.count() == documents and not Order.objects.exists()


def test_7_3_failed_face_gated_order_leaves_no_photo(world, scripted_face_engine, monkeypatch):
    card = factories.order_stock_card(enterprise=world["enterprise"])
    before = private_files()
    fail_on(monkeypatch, "cards.orders.services.audit_record", "order.awaiting_verification")
    with pytest.raises(OperationalError):
        factories.order(
            actor=world["users"]["account_manager"],
            enterprise=world["enterprise"],
            business_type="new_installation",
            cards=[card],
        )
    assert private_files() == before


def test_7_3_failed_registration_and_documents_leave_no_file(world, monkeypatch):
    from enterprises.services import enterprise_upload_documents

    manager = world["users"]["account_manager"]
    before = private_files()
    fail_on(monkeypatch, "enterprises.services.audit_record")
    with pytest.raises(OperationalError):
        factories.enterprise(actor=manager)
    assert private_files() == before
    with pytest.raises(OperationalError):
        enterprise_upload_documents(
            actor=manager,
            enterprise=world["enterprise"],
            credential_files=[jpeg_upload()],
            responsible_id_files=[jpeg_upload()],
        )
    assert private_files() == before


def test_7_3_failed_change_request_leaves_no_file(world, monkeypatch):
    from enterprises.services import change_request_submit
    from tests import idgen

    before = private_files()
    fail_on(monkeypatch, "enterprises.services.audit_record", "change_request.submitted")
    with pytest.raises(OperationalError):
        change_request_submit(
            actor=world["users"]["account_manager"],
            enterprise=world["enterprise"],
            target="enterprise",
            values={
                "name": "新名称",
                "credential_type": "business_licence",
                "credential_number": idgen.uscc(),
                "credential_address": "北京市西城区1号",
            },
            files=[jpeg_upload()],
        )
    assert private_files() == before


def test_7_3_failed_exemption_leaves_no_attachment(world, monkeypatch):
    from approvals.services import exemption_file

    card = factories.card(enterprise=world["enterprise"], data="non_directed")
    before = private_files()
    fail_on(monkeypatch, "approvals.services.audit_record", "exemption.submitted")
    with pytest.raises(OperationalError):
        exemption_file(
            actor=world["users"]["account_manager"],
            enterprise=world["enterprise"],
            cards=[card],
            reason="无人值守设备",
            attachments=attachments_for(["province"]),
        )
    assert private_files() == before


def test_7_3_failed_card_import_leaves_no_file(world, monkeypatch):
    from cards.imports.services import card_import_create

    before = private_files()
    fail_on(monkeypatch, "cards.imports.services.audit_record", "card_import.created")
    content = (
        "iccid,msisdn,imsi,package_code,data,voice,sms\r\n"
        f"{factories.iccid()},1064000000001,,IOT-STD,none,none,none\r\n"
    )
    with pytest.raises(OperationalError):
        card_import_create(
            actor=world["users"]["account_manager"],
            enterprise=world["enterprise"],
            upload=SimpleUploadedFile("cards.csv", content.encode()),
        )
    assert private_files() == before


def test_7_3_one_helper_for_files_in_a_transaction():
    """The three copies of _atomic_with_files are gone: every service uses core.files."""
    import approvals.services
    import cards.orders.services
    import enterprises.services

    for module in (approvals.services, cards.orders.services, enterprises.services):
        assert not hasattr(module, "_atomic_with_files"), module.__name__


def test_7_3_files_of_a_nested_write_go_when_the_outer_one_fails(tmp_path):
    """An inner transaction that committed into an outer one that rolls back: its files go too."""
    from django.core.files.base import ContentFile

    from core.files import atomic_with_files
    from core.storage import EncryptedFileSystemStorage

    storage = EncryptedFileSystemStorage(location=tmp_path / "nested")
    with pytest.raises(RuntimeError):
        with atomic_with_files() as outer:
            outer.add(storage, storage.save("outer.jpg", ContentFile(b"a")))
            with atomic_with_files() as inner:
                inner.add(storage, storage.save("inner.jpg", ContentFile(b"b")))
            raise RuntimeError("the outer transaction fails")
    assert list((tmp_path / "nested").iterdir()) == []

    with atomic_with_files() as outer:
        with atomic_with_files() as inner:
            inner.add(storage, storage.save("kept.jpg", ContentFile(b"c")))
    assert [path.name for path in (tmp_path / "nested").iterdir()] == ["kept.jpg"]
