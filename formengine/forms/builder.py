"""Build a Flask-WTF form class from a definition at run time.

Every field is optional at this level: a missing answer means unanswered, and
whether that matters is the scoring's and the review screen's business. A code
that is not on the item's scale (a tampered post) fails validation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, IntegerField, RadioField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from formengine.instruments import Definition
from formengine.texts import TextSource

BOOLEAN_CHOICES = {"da": (("true", "Ja"), ("false", "Nej")), "en": (("true", "Yes"), ("false", "No"))}


def _code_key(code: Any) -> str:
    """Form value for a code: JSON keeps 1 and "1" apart."""
    return json.dumps(code)


def field_for(definition: Definition, item: Mapping[str, Any], texts: TextSource, lang: str):
    """The unbound WTForms field for one item (None for types this builder does not render)."""
    label = texts.item(item, lang)
    kind = item.get("type", "choice")
    if kind == "choice":
        options = definition.scale_options(item)
        by_key = {_code_key(o["code"]): o["code"] for o in options}
        return RadioField(
            label,
            choices=[(_code_key(o["code"]), texts.option(item, o, lang)) for o in options],
            coerce=lambda v, _m=by_key: _m.get(v, v) if isinstance(v, str) else v,
            validators=[Optional()],
            validate_choice=True,
        )
    if kind == "boolean":
        return RadioField(
            label,
            choices=list(BOOLEAN_CHOICES.get(lang, BOOLEAN_CHOICES["da"])),
            coerce=lambda v: {"true": True, "false": False}.get(v, v) if isinstance(v, str) else v,
            validators=[Optional()],
        )
    if kind == "text":
        cls = TextAreaField if item.get("multiline") else StringField
        return cls(label, validators=[Optional(), Length(max=item["max_length"])])
    if kind == "number":
        cls = IntegerField if item.get("integer") else DecimalField
        return cls(label, validators=[Optional(), NumberRange(min=item.get("min"), max=item.get("max"))])
    if kind == "date":
        return DateField(label, validators=[Optional()])
    return None


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


def form_answers(form: FlaskForm, definition: Definition) -> dict[str, Any]:
    """The answer set (item id -> code) in a validated form; empty fields are left out."""
    answers: dict[str, Any] = {}
    for item in definition.items:
        field = getattr(form, item["id"], None)
        if field is None or field.data in (None, "", "None"):
            continue
        value = field.data
        kind = item.get("type", "choice")
        if kind == "date":
            value = value.isoformat()
        elif kind == "number" and not item.get("integer"):
            value = float(value)
        answers[item["id"]] = value
    return answers
