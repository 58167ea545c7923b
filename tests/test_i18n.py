"""The UI is Simplified Chinese by default, with English available; the catalogue is complete."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.punctuation import ascii_punctuation_after_chinese

PO = Path(__file__).resolve().parents[1] / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"

pytestmark = pytest.mark.zh


def test_login_page_is_chinese_by_default(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert response["Content-Language"] == "zh-hans"
    assert "登录" in response.content.decode()


def test_english_is_available(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain and "Log in" in response.content.decode()


def test_service_messages_are_translated(world):
    from core.errors import DomainError
    from enterprises.services import enterprise_register
    from tests import factories

    with pytest.raises(DomainError) as refused:
        enterprise_register(
            actor=world["users"]["ops"],
            enterprise=factories.enterprise_data(),
            responsible=factories.responsible_data(),
        )
    assert re.search(r"[\u4e00-\u9fff]", str(refused.value.message))


def test_every_message_has_a_translation():
    text = PO.read_text(encoding="utf-8")
    entries = text.split("\n\n")[1:]
    untranslated = [e for e in entries if re.search(r'^msgstr(\[0\])? ""\n?\Z', e.strip() + "\n", re.M)]
    assert not untranslated, untranslated[:3]
    assert "#, fuzzy" not in text


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="needs GNU gettext's msgfmt (apt-get install gettext)")
def test_compiled_catalogue_matches_the_po_file(tmp_path):
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check-format", "-o", str(compiled), str(PO)], check=True)
    assert compiled.read_bytes() == PO.with_suffix(".mo").read_bytes(), "run `make messages` and commit the .mo"


def _msgstrs(text: str) -> list[tuple[str, str]]:
    """(msgid, msgstr) for every translation in the catalogue (each plural form apart), with
    continuation lines joined."""
    pairs: list[tuple[str, str]] = []
    for entry in text.split("\n\n"):
        fields: dict[str, str] = {}
        name = None
        for line in entry.splitlines():
            match = re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) "(.*)"$', line)
            if match:
                name = match.group(1)
                fields[name] = match.group(2)
            elif line.startswith('"') and name:
                fields[name] += line[1:-1]
        pairs += [(fields.get("msgid", ""), value) for key, value in fields.items() if key.startswith("msgstr")]
    return pairs


def test_chinese_text_uses_chinese_punctuation():
    """Issue 11 §5: "老客户." and "企业信息, 责任人." read wrong. A Chinese msgstr puts no ASCII comma,
    full stop, semicolon or colon after a Chinese character (numbers and codes keep theirs)."""
    pairs = _msgstrs(PO.read_text(encoding="utf-8"))
    assert len(pairs) > 1000  # the parser read the catalogue
    assert ("Returning customer", "老客户") in pairs
    wrong = [(msgid, msgstr) for msgid, msgstr in pairs if ascii_punctuation_after_chinese(msgstr)]
    assert not wrong, wrong[:5]


TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
# An ASCII colon right after a template tag: after {% translate "Status" %} (or any tag that prints words) it is
# an ASCII colon after a Chinese word once translated. {% colon %} prints the active language's.
_TAG_THEN_COLON = re.compile(r"%\}:")


def test_templates_put_no_ascii_colon_after_a_translated_label():
    """Issue 11 §5: `{% translate "Status" %}:` reads "状态:" in Chinese; {% colon %} gives "状态："."""
    templates = list(TEMPLATES_DIR.rglob("*.html"))
    assert len(templates) > 50  # the walk found the templates
    wrong = [
        f"{path.relative_to(TEMPLATES_DIR)}:{number}"
        for path in templates
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _TAG_THEN_COLON.search(line)
    ]
    assert not wrong, wrong


def test_the_colon_tag_follows_the_active_language():
    from django.template import Context, Template
    from django.utils import translation

    template = Template('{% load i18n text_tags %}{% translate "Status" %}{% colon %}x')
    with translation.override("en"):
        assert template.render(Context()) == "Status: x"
    assert _TAG_THEN_COLON.search('{% translate "Status" %}: x')
