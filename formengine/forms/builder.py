"""Build a Flask-WTF form class from a definition at run time.

The form renders the questions and carries the CSRF token; it does not parse
answers. :func:`form_answers` reads the posted fields with the answer codec
(:mod:`formengine.instruments.codec`), the same rules as the stepper and
import: a code not on the item's scale, a malformed number or a control
character is refused naming the item. An empty field means unanswered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import request
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.widgets import DateInput

from formengine.instruments import Definition, code_key, codec_for
from formengine.texts import TextSource

# Question types this page renders; others (a repeatable group) are answered in the stepper only.
RENDERED_TYPES = ("choice", "boolean", "text", "number", "date")

BOOLEAN_CHOICES = {"da": (("true", "Ja"), ("false", "Nej")), "en": (("true", "Yes"), ("false", "No"))}


def field_for(definition: Definition, item: Mapping[str, Any], texts: TextSource, lang: str):
    """The unbound WTForms field for one item (None for types this builder does not render)."""
    label = texts.item(item, lang)
    kind = item.get("type", "choice")
    if kind == "choice":
        options = definition.scale_options(item)
        choices = [(code_key(o["code"]), texts.option(item, o, lang)) for o in options]
        return RadioField(label, choices=choices, validate_choice=False)
    if kind == "boolean":
        return RadioField(label, choices=list(BOOLEAN_CHOICES.get(lang, BOOLEAN_CHOICES["da"])),
                          validate_choice=False)
    if kind == "text":
        cls = TextAreaField if item.get("multiline") else StringField
        return cls(label, render_kw={"maxlength": item["max_length"]})
    if kind == "number":
        return StringField(label, render_kw={"inputmode": "decimal", "autocomplete": "off"})
    if kind == "date":
        return StringField(label, widget=DateInput())
    return None


def unrendered_items(definition: Definition) -> list[str]:
    """Ids of the items the whole-form page cannot show (answered in the stepper only)."""
    return [item["id"] for item in definition.items if item.get("type", "choice") not in RENDERED_TYPES]


def build_form_class(
    definition: Definition, texts: TextSource, lang: str, item_ids: Iterable[str] | None = None
) -> type[FlaskForm]:
    """A FlaskForm subclass with one field per item (or per item in ``item_ids``)."""
    wanted = set(item_ids) if item_ids is not None else None
    attrs: dict[str, Any] = {}
    for item in definition.items:
        if wanted is not None and item["id"] not in wanted:
            continue
        field = field_for(definition, item, texts, lang)
        if field is not None:
            attrs[item["id"]] = field
    return type(f"{definition.id.title()}Form", (FlaskForm,), attrs)


def form_answers(form: FlaskForm, definition: Definition,
                 formdata: Mapping[str, str] | None = None, *, ignore: Iterable[str] = ()) -> dict[str, Any]:
    """The answer set (item id -> stored value) posted to ``form``; empty fields are left out.

    ``formdata`` defaults to the current request's form fields; ``ignore`` names
    the page's own fields besides the CSRF token (e.g. its decline boxes).

    Raises :class:`~formengine.instruments.codec.AnswerRefused` naming each refused item.
    """
    rendered = [item["id"] for item in definition.items if getattr(form, item["id"], None) is not None]
    fields = request.form if formdata is None else formdata
    posted = codec_for(definition).read_form(fields, rendered, ignore=("csrf_token", *ignore))
    return {item_id: value for item_id, value in posted.items() if value is not None}
