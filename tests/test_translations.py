"""The Danish catalogue is complete and its compiled .mo matches the .po."""

from io import BytesIO
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

CATALOGUE = Path(__file__).parents[1] / "formengine" / "translations" / "da" / "LC_MESSAGES"


def test_every_message_has_a_danish_translation():
    catalog = read_po(BytesIO((CATALOGUE / "messages.po").read_bytes()))
    untranslated = [m.id for m in catalog if m.id and not m.string]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert untranslated == [] and fuzzy == [], "run scripts/i18n and translate"


def test_compiled_catalogue_is_up_to_date():
    po = read_po(BytesIO((CATALOGUE / "messages.po").read_bytes()))
    mo = read_mo(BytesIO((CATALOGUE / "messages.mo").read_bytes()))
    assert {m.id: m.string for m in po if m.id} == {m.id: m.string for m in mo if m.id}, (
        "messages.mo is stale: run scripts/i18n"
    )


def test_every_string_in_the_code_is_in_the_catalogue():
    from babel.messages.extract import extract_from_dir

    root = Path(__file__).parents[1]
    method_map = [("formengine/**.py", "python"), ("formengine/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(root), method_map=method_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    catalog = read_po(BytesIO((CATALOGUE / "messages.po").read_bytes()))
    missing = sorted(found - {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id})
    assert missing == [], "run scripts/i18n and translate"
