"""Business actions on enterprise records. Only these functions write.

Every action validates fully before it writes, runs in one transaction, and
removes any files it stored when the transaction does not commit
(core.files.atomic_with_files), so a refused request leaves neither rows nor
files behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.permissions import Capability, actor_user, require
from accounts.pii import credential_index, personal_id_index, unit_name_index
from accounts.roles import Role
from accounts.services import audit_record, pii_view_log
from core.errors import Conflict, InvalidTransition, ValidationFailed
from core.files import StoredFiles, atomic_with_files
from core.identity import (
    CredentialType,
    IdentityError,
    credential_requires_number,
    normalize_unit_name,
    validate_credential_number,
    validate_personal_id,
)
from core.uploads import CleanUpload, sanitize_upload
from enterprises import hooks, registry
from enterprises.models import (
    ChangeRequest,
    ChangeRequestStatus,
    ChangeTarget,
    Document,
    DocumentKind,
    DocumentPurpose,
    Enterprise,
    EnterpriseStatus,
    RecordVersion,
    ResponsiblePerson,
    UnitKind,
    record_values,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Kinds that may be a scanned PDF rather than a photo.
PDF_ALLOWED_KINDS = {DocumentKind.OFFICIAL_LETTER, DocumentKind.AUTHORISATION_LETTER}


@dataclass(frozen=True)
class EnterpriseData:
    name: str
    credential_type: str
    credential_number: str
    credential_address: str
    # A UnitKind code. Left empty, a credential's type implies it (DEFAULT_UNIT_KINDS); the letter
    # path always names it, since only some kinds may take it (E1).
    unit_kind: str = ""


# The kind a credential implies when none is given. The legacy organisation code is held by
# units of every kind, hence "other"; the letter path has no default.
DEFAULT_UNIT_KINDS: dict[str, str] = {
    CredentialType.BUSINESS_LICENCE: "enterprise",
    CredentialType.PUBLIC_INSTITUTION: "public_institution",
    CredentialType.SOCIAL_ORGANISATION: "social_organisation",
    CredentialType.ORGANISATION_CODE: "other",
}


@dataclass(frozen=True)
class ResponsiblePersonData:
    name: str
    id_type: str
    id_number: str
    id_address: str
    is_legal_representative: bool


# --- validation -------------------------------------------------------------


def _required_text(value: str, field: str, label: StrOrPromise) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(_("%(field)s is required.") % {"field": label}, code="required", field=field)
    return value


def _unit_kind(code: str, credential_type: str, current: UnitKind | None) -> UnitKind:
    """The kind named by `code`; empty keeps `current` (a change request) or takes the credential's default."""
    code = (code or "").strip()
    if not code and current is not None:
        return current
    if current is not None and code == current.code:
        return current  # kept, even if ops have retired it since
    code = code or DEFAULT_UNIT_KINDS.get(credential_type, "")
    if not code:
        raise ValidationFailed(
            _("Choose the kind of unit: only some kinds may register with an official letter."),
            code="required",
            field="unit_kind",
        )
    kind = UnitKind.objects.filter(code=code, is_active=True).first()
    if kind is None:
        raise ValidationFailed(_("Choose one of the unit kinds offered."), code="invalid_unit_kind", field="unit_kind")
    return kind


def letter_not_allowed(kind: UnitKind) -> ValidationFailed:
    kinds = "、".join(k.label for k in UnitKind.objects.filter(is_active=True, cannot_hold_credential=True))
    return ValidationFailed(
        _(
            "A unit of the kind %(kind)s holds a credential: register it with the credential. The unit "
            "introduction letter or official letter with seal is only for units that cannot hold one "
            "(%(kinds)s)."
        )
        % {"kind": kind.label, "kinds": kinds},
        code="letter_not_allowed",
        field="credential_type",
    )


def _clean_enterprise_data(data: EnterpriseData, *, current_kind: UnitKind | None = None) -> EnterpriseData:
    """E1: the unit name and kind, credential type, number (checked per type) and address.

    The letter-with-seal path is open only to kinds that cannot hold a credential
    (党政机关、军队、部队等无法提供单位有效证件的): this is the check, for every channel.
    """
    name = _required_text(data.name, "name", _("Unit name"))
    address = _required_text(data.credential_address, "credential_address", _("Credential address"))
    if data.credential_type not in CredentialType.values:
        raise ValidationFailed(_("Choose a valid credential type."), code="invalid_type", field="credential_type")
    kind = _unit_kind(data.unit_kind, data.credential_type, current_kind)
    is_letter = not credential_requires_number(data.credential_type)
    if is_letter and not kind.cannot_hold_credential:
        raise letter_not_allowed(kind)
    if is_letter and not normalize_unit_name(name):
        # The name is what finds a letter unit again: it must have letters or digits.
        raise ValidationFailed(_("Enter the unit's name."), code="invalid_name", field="name")
    try:
        number = validate_credential_number(data.credential_type, data.credential_number or "")
    except IdentityError as exc:
        raise ValidationFailed(exc.message, code=exc.code, field="credential_number") from exc
    return EnterpriseData(name, data.credential_type, number, address, kind.code)


def _check_not_registered(
    *, actor: User, data: EnterpriseData, province_id: int, exclude_pk: int | None = None
) -> None:
    """The number (or a letter unit's name) is free, as the actor may be told (enterprises.registry)."""
    if data.credential_number:
        holder = registry.credential_holder({credential_index(data.credential_number)}, exclude_pk=exclude_pk)
        if holder is not None:
            raise registry.conflict_for(actor, holder)
    elif registry.letter_unit_holder(province_id, unit_name_index(data.name), exclude_pk=exclude_pk) is not None:
        raise registry.letter_unit_already_registered()


def _clean_responsible_data(data: ResponsiblePersonData) -> ResponsiblePersonData:
    """P2: name, ID type, ID number (checked per type) and ID address."""
    name = _required_text(data.name, "responsible_name", _("Responsible person's name"))
    address = _required_text(data.id_address, "responsible_id_address", _("Responsible person's ID address"))
    try:
        number = validate_personal_id(data.id_type, data.id_number or "")
    except IdentityError as exc:
        raise ValidationFailed(exc.message, code=exc.code, field="responsible_id_number") from exc
    return ResponsiblePersonData(name, data.id_type, number, address, bool(data.is_legal_representative))


def _sanitize_all(files: Iterable[UploadedFile], *, kind: str, field: str) -> list[CleanUpload]:
    cleaned = []
    for upload in files or ():
        cleaned.append(sanitize_upload(upload, allow_pdf=kind in PDF_ALLOWED_KINDS, field=field))
    return cleaned


def _require_files(files: Sequence[UploadedFile], field: str, message: StrOrPromise) -> None:
    if not files:
        raise ValidationFailed(message, code="required", field=field)


# --- document storage -------------------------------------------------------


def _store_documents(
    *,
    stored: StoredFiles,
    enterprise: Enterprise,
    kind: str,
    uploads: list[CleanUpload],
    actor: User,
    purpose: str,
    business_reference: str = "",
    change_request: ChangeRequest | None = None,
) -> list[Document]:
    """Each upload becomes a new version; earlier versions stay (E2, P3)."""
    current = (
        Document.objects.select_for_update(of=("self",))
        .filter(enterprise=enterprise, kind=kind)
        .aggregate(latest=Max("version"))["latest"]
        or 0
    )
    created = []
    for offset, upload in enumerate(uploads, start=1):
        document = Document(
            enterprise=enterprise,
            kind=kind,
            version=current + offset,
            purpose=purpose,
            business_reference=business_reference,
            change_request=change_request,
            extension=upload.extension,
            content_type=upload.content_type,
            size=len(upload.content),
            sha256=upload.sha256,
            width=upload.width,
            height=upload.height,
            uploaded_by=actor_user(actor),
        )
        stored.save(document.file, "upload", upload.content)
        document.save()
        created.append(document)
    return created


# --- E1, P1, P2: first registration ------------------------------------------


def enterprise_register(
    *,
    actor: User,
    enterprise: EnterpriseData,
    responsible: ResponsiblePersonData,
    credential_files: Sequence[UploadedFile] = (),
    responsible_id_files: Sequence[UploadedFile] = (),
    authorisation_letter_files: Sequence[UploadedFile] = (),
    business_reference: str = "",
) -> Enterprise:
    """Create a first-time enterprise with its responsible person, in the actor's province."""
    require(actor, Capability.ENTERPRISE_REGISTER, message=_("Only account managers register enterprises."))
    province_id = actor.province_id
    assert province_id is not None  # the users table's CHECK: an account manager has a province
    data = _clean_enterprise_data(enterprise)
    person = _clean_responsible_data(responsible)

    credential_kind = (
        DocumentKind.CREDENTIAL if credential_requires_number(data.credential_type) else DocumentKind.OFFICIAL_LETTER
    )
    _require_files(
        credential_files,
        "credential_files",
        _("Upload a photo of the original credential.")
        if credential_kind == DocumentKind.CREDENTIAL
        else _("Upload the unit introduction letter or official letter with the official seal."),
    )
    _require_files(responsible_id_files, "responsible_id_files", _("Upload a photo of the responsible person's ID."))
    if not person.is_legal_representative:
        # P1: someone other than the legal representative needs the unit's authorisation.
        _require_files(
            authorisation_letter_files,
            "authorisation_letter_files",
            _("The responsible person is not the legal representative: upload the authorisation letter."),
        )
    credentials = _sanitize_all(credential_files, kind=credential_kind, field="credential_files")
    id_photos = _sanitize_all(responsible_id_files, kind=DocumentKind.RESPONSIBLE_ID, field="responsible_id_files")
    letters = (
        []
        if person.is_legal_representative
        else _sanitize_all(
            authorisation_letter_files, kind=DocumentKind.AUTHORISATION_LETTER, field="authorisation_letter_files"
        )
    )

    index = credential_index(data.credential_number) if data.credential_number else None
    _check_not_registered(actor=actor, data=data, province_id=province_id)
    try:
        with atomic_with_files() as stored:
            record = Enterprise.objects.create(
                name=data.name,
                unit_kind=UnitKind.objects.get(code=data.unit_kind),
                name_index=unit_name_index(data.name),
                credential_type=data.credential_type,
                credential_number=data.credential_number,
                credential_number_index=index,
                credential_address=data.credential_address,
                province_id=province_id,
                account_manager=actor,
                created_by=actor,
            )
            ResponsiblePerson.objects.create(
                enterprise=record,
                name=person.name,
                id_type=person.id_type,
                id_number=person.id_number,
                id_number_index=personal_id_index(person.id_type, person.id_number),
                id_address=person.id_address,
                is_legal_representative=person.is_legal_representative,
            )
            common: dict[str, Any] = dict(
                stored=stored,
                enterprise=record,
                actor=actor,
                purpose=DocumentPurpose.REGISTRATION,
                business_reference=business_reference,
            )
            _store_documents(kind=credential_kind, uploads=credentials, **common)
            _store_documents(kind=DocumentKind.RESPONSIBLE_ID, uploads=id_photos, **common)
            _store_documents(kind=DocumentKind.AUTHORISATION_LETTER, uploads=letters, **common)
            audit_record(actor=actor, action="enterprise.registered", obj=record)
    except IntegrityError as exc:
        # Two registrations of one credential (or one letter unit) raced past the check above.
        holder = registry.credential_holder({index}) if index else None
        if holder is not None:
            raise registry.conflict_for(actor, holder) from exc
        if not index:
            raise registry.letter_unit_already_registered() from exc
        raise registry.already_registered() from exc
    return record


# --- E2, P3: later business only uploads fresh photos -----------------------


def enterprise_upload_documents(
    *,
    actor: User,
    enterprise: Enterprise,
    credential_files: Sequence[UploadedFile] = (),
    responsible_id_files: Sequence[UploadedFile] = (),
    authorisation_letter_files: Sequence[UploadedFile] = (),
    business_reference: str = "",
) -> list[Document]:
    """Add fresh document versions for a later business; no data is re-entered."""
    require(
        actor,
        Capability.ENTERPRISE_UPLOAD_DOCUMENTS,
        enterprise,
        message=_("Your role may not upload documents for this enterprise."),
    )
    if not (credential_files or responsible_id_files or authorisation_letter_files):
        raise ValidationFailed(_("Choose at least one file to upload."), code="required", field="credential_files")
    credential_kind = DocumentKind.CREDENTIAL if enterprise.requires_number else DocumentKind.OFFICIAL_LETTER
    batches = [
        (credential_kind, _sanitize_all(credential_files, kind=credential_kind, field="credential_files")),
        (
            DocumentKind.RESPONSIBLE_ID,
            _sanitize_all(responsible_id_files, kind=DocumentKind.RESPONSIBLE_ID, field="responsible_id_files"),
        ),
        (
            DocumentKind.AUTHORISATION_LETTER,
            _sanitize_all(
                authorisation_letter_files,
                kind=DocumentKind.AUTHORISATION_LETTER,
                field="authorisation_letter_files",
            ),
        ),
    ]
    created: list[Document] = []
    with atomic_with_files() as stored:
        locked = Enterprise.objects.select_for_update(of=("self",), no_key=True).get(pk=enterprise.pk)
        for kind, uploads in batches:
            created += _store_documents(
                stored=stored,
                enterprise=locked,
                kind=kind,
                uploads=uploads,
                actor=actor,
                purpose=DocumentPurpose.LATER_BUSINESS,
                business_reference=business_reference,
            )
        audit_record(
            actor=actor,
            action="enterprise.documents_uploaded",
            obj=locked,
            data={"documents": [str(d.public_id) for d in created], "business_reference": business_reference},
        )
    return created


# --- editing what is not real-name data -------------------------------------


def enterprise_update(
    *, actor: User, enterprise: Enterprise, notes: str | None = None, account_manager: User | None = None
) -> Enterprise:
    """Edit the fields outside the real-name record; real-name data changes go through E3/P4."""
    require(actor, Capability.ENTERPRISE_EDIT, enterprise, message=_("Your role may not edit this enterprise."))
    changed: dict[str, str] = {}
    with transaction.atomic():
        locked = Enterprise.objects.select_for_update(of=("self",), no_key=True).get(pk=enterprise.pk)
        if notes is not None and notes != locked.notes:
            locked.notes = notes
            changed["notes"] = "updated"
        if account_manager is not None and account_manager.pk != locked.account_manager_id:
            if account_manager.role != Role.ACCOUNT_MANAGER or account_manager.province_id != locked.province_id:
                raise ValidationFailed(
                    _("The managing account manager must be an account manager of the enterprise's province."),
                    code="invalid_account_manager",
                    field="account_manager",
                )
            locked.account_manager = account_manager
            changed["account_manager"] = account_manager.username
        if changed:
            locked.save()
            audit_record(actor=actor, action="enterprise.updated", obj=locked, data=changed)
    return locked


# --- E3, P4: change requests ------------------------------------------------


def change_request_submit(
    *,
    actor: User,
    enterprise: Enterprise,
    target: str,
    values: dict[str, Any],
    files: Sequence[UploadedFile] = (),
    authorisation_letter_files: Sequence[UploadedFile] = (),
    reason: str = "",
) -> ChangeRequest:
    """File a change of real-name data with the new document; it stays pending until decided."""
    require(
        actor,
        Capability.CHANGE_REQUEST_FILE,
        enterprise,
        message=_("Your role may not request changes for this enterprise."),
    )
    if target == ChangeTarget.ENTERPRISE:
        data = _clean_enterprise_data(
            EnterpriseData(**_pick(values, EnterpriseData)), current_kind=enterprise.unit_kind
        )
        cleaned = asdict(data)
        kind = (
            DocumentKind.CREDENTIAL
            if credential_requires_number(cleaned["credential_type"])
            else DocumentKind.OFFICIAL_LETTER
        )
        _require_files(files, "files", _("Upload the new credential."))
        if registry.told_of_other_provinces(actor):
            # Account managers hear now what the lookup would tell them. Anyone else is not told
            # whether another tenant holds the number or name (§2.7): approving meets the clash.
            _check_not_registered(actor=actor, data=data, province_id=enterprise.province_id, exclude_pk=enterprise.pk)
        letters: list[CleanUpload] = []
    elif target == ChangeTarget.RESPONSIBLE_PERSON:
        cleaned = asdict(_clean_responsible_data(ResponsiblePersonData(**_pick(values, ResponsiblePersonData))))
        kind = DocumentKind.RESPONSIBLE_ID
        _require_files(files, "files", _("Upload a photo of the new responsible person's ID."))
        if not cleaned["is_legal_representative"]:
            _require_files(
                authorisation_letter_files,
                "authorisation_letter_files",
                _("The responsible person is not the legal representative: upload the authorisation letter."),
            )
        letters = _sanitize_all(
            authorisation_letter_files, kind=DocumentKind.AUTHORISATION_LETTER, field="authorisation_letter_files"
        )
    else:
        raise ValidationFailed(_("Choose what to change."), code="invalid_target", field="target")
    uploads = _sanitize_all(files, kind=kind, field="files")

    try:
        with atomic_with_files() as stored:
            locked = Enterprise.objects.select_for_update(of=("self",), no_key=True).get(pk=enterprise.pk)
            request = ChangeRequest.objects.create(
                enterprise=locked,
                target=target,
                status=ChangeRequestStatus.SUBMITTED,
                proposed_values_encrypted=json.dumps(cleaned, ensure_ascii=False),
                reason=(reason or "").strip(),
                submitted_by=actor,
                submitted_at=timezone.now(),
            )
            common: dict[str, Any] = dict(
                stored=stored,
                enterprise=locked,
                actor=actor,
                purpose=DocumentPurpose.CHANGE_REQUEST,
                change_request=request,
            )
            _store_documents(kind=kind, uploads=uploads, **common)
            _store_documents(kind=DocumentKind.AUTHORISATION_LETTER, uploads=letters, **common)
            locked.status = EnterpriseStatus.CHANGE_PENDING
            locked.save(update_fields=["status", "updated_at"])
            audit_record(actor=actor, action="change_request.submitted", obj=request, data={"target": target})
            hooks.change_request_submitted.send(change_request=request)
    except IntegrityError as exc:
        raise Conflict(
            _("A change of this data is already pending for this enterprise."), code="change_pending", field="target"
        ) from exc
    return request


def _pick(values: dict[str, Any], shape: type[EnterpriseData | ResponsiblePersonData]) -> dict[str, Any]:
    names = shape.__dataclass_fields__.keys()
    return {name: values.get(name, False if name == "is_legal_representative" else "") for name in names}


def _make_request_documents_newest(request: ChangeRequest) -> None:
    """On approval the request's documents become the record's newest versions.

    They were numbered when the request was filed; a later-business upload while it was pending
    may have taken higher numbers since, and the approved documents must not read as older.
    """
    own = list(request.documents.select_for_update(of=("self",)).order_by("kind", "version"))
    for kind in {document.kind for document in own}:
        others = (
            Document.objects.select_for_update(of=("self",))
            .filter(enterprise_id=request.enterprise_id, kind=kind)
            .exclude(change_request=request)
            .aggregate(latest=Max("version"))["latest"]
            or 0
        )
        mine = [document for document in own if document.kind == kind]
        if mine[0].version > others:
            continue
        for offset, document in enumerate(mine, start=1):
            document.version = others + offset  # above every other version, so no clash on the way
            document.save(update_fields=["version"])


def change_request_apply(*, change_request: ChangeRequest, actor: User) -> Enterprise:
    """Write an approved change into the record; the replaced values are kept as a version."""
    with transaction.atomic():
        request = ChangeRequest.objects.select_for_update(of=("self",)).get(pk=change_request.pk)
        if request.status != ChangeRequestStatus.APPROVED:
            raise InvalidTransition(_("Only an approved change request can be applied."))
        if request.applied_at is not None:
            raise InvalidTransition(_("This change request has already been applied."))
        enterprise = Enterprise.objects.select_for_update(of=("self",), no_key=True).get(pk=request.enterprise_id)
        values = request.proposed_values
        if request.target == ChangeTarget.ENTERPRISE:
            previous = record_values(enterprise, request.target)
            # Requests filed before units had kinds keep the record's kind.
            kind = UnitKind.objects.filter(code=values.get("unit_kind") or enterprise.unit_kind.code).first()
            is_letter = not credential_requires_number(values["credential_type"])
            if kind is None or (is_letter and not kind.cannot_hold_credential):
                raise letter_not_allowed(kind or enterprise.unit_kind)
            new_index = credential_index(values["credential_number"]) if values["credential_number"] else None
            new_name_index = unit_name_index(values["name"])
            # Another unit may hold this number or letter-unit name: registered since the request was
            # filed, or held all along by another tenant (whom the filer is not told about, §2.7).
            if (new_index and registry.credential_holder({new_index}, exclude_pk=enterprise.pk)) or (
                is_letter
                and registry.letter_unit_holder(enterprise.province_id, new_name_index, exclude_pk=enterprise.pk)
            ):
                raise registry.change_clashes()
            enterprise.name = values["name"]
            enterprise.name_index = new_name_index
            enterprise.unit_kind = kind
            enterprise.credential_type = values["credential_type"]
            enterprise.credential_number = values["credential_number"]
            enterprise.credential_number_index = new_index
            enterprise.credential_address = values["credential_address"]
        else:
            person = ResponsiblePerson.objects.select_for_update(of=("self",)).get(enterprise=enterprise)
            previous = record_values(enterprise, request.target)
            person.name = values["name"]
            person.id_type = values["id_type"]
            person.id_number = values["id_number"]
            person.id_number_index = personal_id_index(values["id_type"], values["id_number"])
            person.id_address = values["id_address"]
            person.is_legal_representative = values["is_legal_representative"]
            person.save()
        _make_request_documents_newest(request)
        RecordVersion.objects.create(
            enterprise=enterprise,
            target=request.target,
            previous_values_encrypted=json.dumps(previous, ensure_ascii=False),
            change_request=request,
            replaced_by=actor,
        )
        if not ChangeRequest.objects.filter(
            enterprise=enterprise, status__in=[ChangeRequestStatus.SUBMITTED, ChangeRequestStatus.DRAFT]
        ).exists():
            enterprise.status = EnterpriseStatus.ACTIVE
        try:
            with transaction.atomic():
                enterprise.save()
        except IntegrityError as exc:
            # A registration raced past the check above: the unique constraints answer.
            raise registry.change_clashes() from exc
        request.applied_at = timezone.now()
        request.save(update_fields=["applied_at"])
        audit_record(actor=actor, action="change_request.applied", obj=request, data={"target": request.target})
        audit_record(
            actor=actor, action="enterprise.real_name_changed", obj=enterprise, data={"target": request.target}
        )
    return enterprise


# --- reference data: unit kinds (E1) -------------------------------------------


def unit_kind_check(unit_kind: UnitKind) -> None:
    """Refuse a change to a kind that would contradict the records holding it.

    A kind that letter units hold stays marked "cannot hold a credential" (else those records would
    break the rule they were registered under), and a kind in use keeps its code (API clients send it).
    """
    if unit_kind.pk is None:
        return
    stored = UnitKind.objects.get(pk=unit_kind.pk)
    holders = Enterprise.objects.filter(unit_kind=stored)
    if stored.code != unit_kind.code and holders.exists():
        raise ValidationFailed(
            _("Enterprises are registered with this kind: its code cannot change."), code="kind_in_use", field="code"
        )
    if (
        stored.cannot_hold_credential
        and not unit_kind.cannot_hold_credential
        and holders.filter(credential_type=CredentialType.OFFICIAL_LETTER).exists()
    ):
        raise ValidationFailed(
            _(
                "Units of this kind are registered with an official letter: the kind stays marked as unable to "
                "hold a credential. Retire it instead, and add a new kind."
            ),
            code="kind_in_use",
            field="cannot_hold_credential",
        )


def unit_kind_save(*, actor: User, unit_kind: UnitKind) -> UnitKind:
    """Ops add or edit a unit kind (Django admin); kinds are retired, never deleted."""
    require(actor, Capability.UNIT_KINDS_MANAGE, message=_("Your role may not edit the unit kinds."))
    created = unit_kind.pk is None
    with transaction.atomic():
        if not created:
            UnitKind.objects.select_for_update().get(pk=unit_kind.pk)
        unit_kind_check(unit_kind)
        unit_kind.save()
        audit_record(
            actor=actor,
            action="unit_kind.created" if created else "unit_kind.changed",
            obj=unit_kind,
            data={
                "code": unit_kind.code,
                "cannot_hold_credential": unit_kind.cannot_hold_credential,
                "is_active": unit_kind.is_active,
            },
        )
    return unit_kind


# --- full views of personal data --------------------------------------------

REVEALABLE_FIELDS = {"credential_number", "responsible_id_number"}


def enterprise_reveal_field(
    *, actor: User, enterprise: Enterprise, field: str, request: HttpRequest | None = None
) -> str:
    """Return one personal-data field in full, and log the view (DESIGN §3)."""
    require(
        actor,
        Capability.VIEW_FULL_PII,
        enterprise,
        message=_("You do not have the permission to view personal data in full."),
    )
    obj: Enterprise | ResponsiblePerson
    value: str
    if field == "credential_number":
        obj, value = enterprise, enterprise.credential_number
    elif field == "responsible_id_number":
        obj, value = enterprise.responsible_person, enterprise.responsible_person.id_number
    else:
        raise ValidationFailed(_("This field cannot be revealed."), code="invalid_field", field="field")
    pii_view_log(actor=actor, obj=obj, field=field, request=request)
    return value


# The numbers a change-request page may show in full: which side of the change, and which number.
CHANGE_REQUEST_REVEALABLE = {
    "old_credential_number": ("old", "credential_number"),
    "new_credential_number": ("new", "credential_number"),
    "old_id_number": ("old", "id_number"),
    "new_id_number": ("new", "id_number"),
}


def change_request_reveal_field(
    *, actor: User, change_request: ChangeRequest, field: str, request: HttpRequest | None = None
) -> str:
    """One number of a change request in full, old or new, and log the view against the request."""
    require(
        actor,
        Capability.VIEW_FULL_PII,
        change_request.enterprise,
        message=_("You do not have the permission to view personal data in full."),
    )
    if field not in CHANGE_REQUEST_REVEALABLE:
        raise ValidationFailed(_("This field cannot be revealed."), code="invalid_field", field="field")
    side, key = CHANGE_REQUEST_REVEALABLE[field]
    values = change_request.proposed_values if side == "new" else change_request.previous_values()
    value = str(values.get(key) or "")
    if not value:
        raise ValidationFailed(_("This field cannot be revealed."), code="invalid_field", field="field")
    pii_view_log(actor=actor, obj=change_request, field=field, request=request)
    return value
