"""Issue 7 §3 (PIPL art. 28, DESIGN §3): documents and photos are encrypted at rest, owner-only.

ID-card images, face photos, licences, letters, approval forms and card files are
written encrypted with the field keys (FIELD_ENCRYPTION_KEYS, MultiFernet), re-encrypted
by `rotate_field_keys`, and written 0600 in 0700 folders. Whoever reads the disk finds
no image or PDF and none of the plaintext; the permission-checking views still serve the
original bytes.
"""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from approvals.models import ExemptionAttachment
from cards.models import CardImport, CardUser, Order
from enterprises.models import Document
from tests import factories
from tests.approvals import file_request
from tests.images import jpeg_bytes
from verification.models import Verification

# The key rotation test re-encrypts every row and file under keys of its own: no world may stay around it.
pytestmark = [pytest.mark.django_db, pytest.mark.world_per_test]

CARD_FILE = (
    f"iccid,msisdn,imsi,package_code,data,voice,sms\r\n{factories.iccid()},1064000000001,460110000000001,IOT-STD,"
    "none,none,none\r\n"
).encode()
MAGIC = {"JPEG": b"\xff\xd8\xff", "PNG": b"\x89PNG", "PDF": b"%PDF", "WEBP": b"RIFF", "ZIP/XLSX": b"PK\x03\x04"}


def private_root() -> Path:
    return Path(settings.PRIVATE_MEDIA_ROOT)


def private_files() -> list[Path]:
    root = private_root()
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def assert_encrypted(raw: bytes, plaintext: bytes | None = None) -> None:
    for kind, magic in MAGIC.items():
        assert magic not in raw[:64], f"a {kind} header is readable on disk"
    if plaintext is not None:
        assert plaintext[:64] not in raw and plaintext[-64:] not in raw, "the plaintext is on disk"


@pytest.fixture
def everything(world, scripted_face_engine):
    """One of every kind of stored file: documents, a letter, card-user and verification photos,
    an order's handler photos, an exemption's approval forms and a card file."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cards.imports.services import card_import_create

    manager = world["users"]["account_manager"]
    enterprise = world["enterprise"]
    letter_unit = factories.enterprise(
        actor=manager,
        credential_type="official_letter",
        credential_number="",
        responsible={"is_legal_representative": False},
    )
    card = factories.card(enterprise=enterprise, data="non_directed")
    verification = factories.card_user_registration(actor=manager, enterprise=enterprise, cards=[card])
    stock = factories.order_stock_card(enterprise=enterprise)
    order = factories.order(actor=manager, enterprise=enterprise, business_type="new_installation", cards=[stock])
    exemption = file_request(
        actor=manager,
        enterprise=enterprise,
        cards=[factories.card(enterprise=enterprise, data="non_directed")],
        levels=["province"],
    )
    job = card_import_create(actor=manager, enterprise=enterprise, upload=SimpleUploadedFile("cards.csv", CARD_FILE))
    return {
        "letter_unit": letter_unit,
        "verification": verification,
        "order": order,
        "exemption": exemption,
        "import": job,
    }


def test_7_3_every_stored_file_is_encrypted_on_disk(everything):
    """Issue 7 §3: no stored file shows a JPEG/PNG/PDF/XLSX header or its plaintext on disk."""
    files = private_files()
    kinds = {path.relative_to(private_root()).parts[0] for path in files}
    assert {"enterprises", "card-users", "verifications", "orders", "exemptions", "card-imports"} <= kinds
    for path in files:
        assert_encrypted(path.read_bytes())

    # The rows' files read back as the original (sanitised) bytes.
    for document in Document.objects.all():
        with document.file.open("rb") as handle:
            content = handle.read()
        assert content.startswith(b"%PDF" if document.extension == ".pdf" else b"\xff\xd8\xff")
        assert len(content) == document.size
        assert_encrypted((private_root() / document.file.name).read_bytes(), content)
    card_user = CardUser.objects.get()
    for field in (
        card_user.id_photo,
        card_user.live_photo,
        everything["order"].handler_id_photo,
        everything["verification"].live_photo,
    ):
        with field.open("rb") as handle:
            content = handle.read()
        assert content.startswith(b"\xff\xd8\xff")
        assert_encrypted((private_root() / field.name).read_bytes(), content)
    with ExemptionAttachment.objects.get().file.open("rb") as handle:
        assert handle.read().startswith(b"%PDF")
    with CardImport.objects.get().file.open("rb") as handle:
        assert handle.read() == CARD_FILE


def test_7_3_files_are_owner_only(everything):
    """Issue 7 §3: files 0600 and folders 0700 (FILE_UPLOAD_PERMISSIONS, FILE_UPLOAD_DIRECTORY_PERMISSIONS)."""
    assert settings.FILE_UPLOAD_PERMISSIONS == 0o600
    assert settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS == 0o700
    files = private_files()
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    folders = {path.parent for path in files}
    for folder in folders:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_7_3_the_storage_writes_owner_only_without_the_settings(settings, tmp_path):
    """The private storage keeps files owner-only even where the settings say nothing."""
    from core.storage import EncryptedFileSystemStorage

    settings.FILE_UPLOAD_PERMISSIONS = None
    settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS = None
    storage = EncryptedFileSystemStorage(location=tmp_path / "own")
    from django.core.files.base import ContentFile

    name = storage.save("a/b/photo.jpg", ContentFile(jpeg_bytes()))
    path = tmp_path / "own" / name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700


def test_7_3_downloads_serve_the_plaintext(client, world):
    """The permission-checking download decrypts: the user gets the JPEG they uploaded (re-encoded)."""
    document = Document.objects.filter(enterprise=world["enterprise"]).first()
    client.force_login(world["users"]["account_manager"])
    response = client.get(reverse("documents:download", args=[document.public_id]))
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xff\xd8\xff")
    assert int(response["Content-Length"]) == len(body) == document.size


def test_7_3_rotate_field_keys_re_encrypts_the_files(settings, provinces, scripted_face_engine):
    """Issue 7 §3 on rotation: after `rotate_field_keys` the old key can go and every file still opens."""
    key_old, key_new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key_old]
    manager = factories.user(role="account_manager", province=provinces["beijing"])
    enterprise = factories.enterprise(actor=manager)
    card = factories.card(enterprise=enterprise, data="non_directed")
    factories.card_user_registration(actor=manager, enterprise=enterprise, cards=[card])
    new_files = {path: path.read_bytes() for path in private_files()}
    assert len(new_files) >= 6  # two documents, two card-user photos, two verification photos
    plain = {}
    for document in Document.objects.filter(enterprise=enterprise):
        with document.file.open("rb") as handle:
            plain[document.pk] = handle.read()

    settings.FIELD_ENCRYPTION_KEYS = [key_new, key_old]
    out = io.StringIO()
    call_command("rotate_field_keys", stdout=out)
    assert "private files: rotated" in out.getvalue()
    for path, before in new_files.items():
        after = path.read_bytes()
        assert after != before
        assert_encrypted(after)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    settings.FIELD_ENCRYPTION_KEYS = [key_new]
    for document in Document.objects.filter(enterprise=enterprise):
        with document.file.open("rb") as handle:
            assert handle.read() == plain[document.pk]
    with CardUser.objects.get().id_photo.open("rb") as handle:
        assert handle.read().startswith(b"\xff\xd8\xff")

    # Without rotation the old key's files are lost: the key really is what protects them.
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    document = Document.objects.filter(enterprise=enterprise).first()
    from core.storage import PrivateFileUnreadable

    with pytest.raises(PrivateFileUnreadable):
        with document.file.open("rb") as handle:
            handle.read()


def test_7_3_rotate_dry_run_leaves_the_files(settings, world):
    key_new = Fernet.generate_key().decode()
    before = {path: path.read_bytes() for path in private_files()}
    settings.FIELD_ENCRYPTION_KEYS = [key_new, *settings.FIELD_ENCRYPTION_KEYS]
    out = io.StringIO()
    call_command("rotate_field_keys", "--dry-run", stdout=out)
    assert "private files: would rotate" in out.getvalue()
    assert {path: path.read_bytes() for path in private_files()} == before


def test_7_3_plaintext_files_of_an_older_database_still_open_and_get_encrypted(world, client):
    """A database made before encryption at rest: its plaintext files open during the transition,
    and `manage.py encrypt_private_files` encrypts them (`make migrate` runs it)."""
    document = Document.objects.filter(enterprise=world["enterprise"], extension=".jpg").first()
    path = private_root() / document.file.name
    legacy = jpeg_bytes(text="legacy")
    path.write_bytes(legacy)  # as an older version stored it: the bare JPEG
    path.chmod(0o644)

    client.force_login(world["users"]["account_manager"])
    response = client.get(reverse("documents:download", args=[document.public_id]))
    assert b"".join(response.streaming_content) == legacy

    out = io.StringIO()
    call_command("encrypt_private_files", stdout=out)
    assert "encrypted 1 plaintext file(s)" in out.getvalue()
    raw = path.read_bytes()
    assert_encrypted(raw, legacy)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with document.file.open("rb") as handle:
        assert handle.read() == legacy

    # Safe to repeat: nothing left to encrypt.
    out = io.StringIO()
    call_command("encrypt_private_files", stdout=out)
    assert "encrypted 0 plaintext file(s)" in out.getvalue()


def test_7_3_a_file_no_key_opens_is_reported_not_overwritten(settings, world):
    before = {path: path.read_bytes() for path in private_files()}
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("encrypt_private_files", stdout=io.StringIO())
    assert {path: path.read_bytes() for path in private_files()} == before


def test_7_3_the_private_storages_are_the_encrypted_one():
    from django.core.files.storage import storages

    from core.storage import EncryptedFileSystemStorage

    assert settings.STORAGES["private"]["BACKEND"] == "core.storage.EncryptedFileSystemStorage"
    assert settings.STORAGES["default"]["BACKEND"] == "core.storage.EncryptedFileSystemStorage"
    assert isinstance(storages["private"], EncryptedFileSystemStorage)
    for model, field in [
        (Document, "file"),
        (CardUser, "id_photo"),
        (CardUser, "live_photo"),
        (Verification, "id_photo"),
        (Verification, "live_photo"),
        (Order, "handler_id_photo"),
        (Order, "handler_live_photo"),
        (ExemptionAttachment, "file"),
        (CardImport, "file"),
    ]:
        # The fields' storage is looked up per use (enterprises.models.private_storage).
        storage = model._meta.get_field(field).storage
        assert isinstance(storage.save.__self__, EncryptedFileSystemStorage), (model, field)


def test_7_3_writing_through_open_is_refused(tmp_path):
    """Only save() encrypts; a plain write through open() would land in the clear, so it is refused."""
    from core.storage import EncryptedFileSystemStorage

    storage = EncryptedFileSystemStorage(location=tmp_path)
    with pytest.raises(ValueError):
        storage.open("x.jpg", "wb")


def test_7_3_uploads_never_touch_the_disk_in_the_clear():
    """Django spools big uploads to a plaintext temp file; every accepted body fits in memory instead."""
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE >= settings.REQUEST_MAX_BYTES
