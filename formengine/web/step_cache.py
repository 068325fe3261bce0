"""The stepper's question fragment, rendered once per form, step, language and shown answers.

Every answer saved on a tablet is answered with the next question
(``fill/_step.html``), and rendering that template from its macros was the
largest part of a save's work. Most of the fragment does not depend on the
response: the wording, the options, the progress line and the buttons are the
same for every response of a form at the same step, in the same language,
with the same questions shown and the same options chosen. So the fragment is
rendered once with markers in place of what belongs to one response and one
browser session (the response's id in the links, the draft's version and the
form token) and kept; each later request copies it and puts its own values
in place of the markers.

Only steps whose questions are all single choices or yes/no questions without
a plugin's widget are kept: their answers are option codes, so the kept
fragments hold no text a person typed. Anything else (text, numbers, dates,
repeatable groups, widgets, a refused save's messages, a conflict, a focused
question) is rendered in full each time. The markers are random per process,
so no answer or wording can contain them.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from flask import current_app, request
from markupsafe import escape

from formengine.instruments import Definition, code_key
from formengine.web import params
from formengine.web.checked import form_token

EXTENSION_KEY = "formengine.step_fragments"
# At most this many fragments per application (a few kilobytes each); the oldest go first.
MAX_FRAGMENTS = 2000
# A choice answer longer than this (it never is for a real option code) is rendered, not kept.
MAX_CODE_LENGTH = 40

# Markers for what belongs to one response and one browser session. The response's marker
# is a well-formed id, so the links are built exactly as they are for a real response.
RESPONSE_MARK = str(uuid.uuid4())
VERSION_MARK = f"v{secrets.token_hex(16)}"
TOKEN_MARK = f"t{secrets.token_hex(16)}"


class _Marked:
    """What the template reads of a response, with markers for its id and version."""

    def __init__(self, declined: list[str]):
        self.uuid = RESPONSE_MARK
        self.version = VERSION_MARK
        self.declined = declined


class _Fragments:
    def __init__(self) -> None:
        self.entries: dict[tuple[Any, ...], tuple[Definition, Any, str]] = {}
        self.lock = threading.Lock()


def _fragments() -> _Fragments:
    store = current_app.extensions.get(EXTENSION_KEY)
    if store is None:
        store = current_app.extensions.setdefault(EXTENSION_KEY, _Fragments())
    return store


def _answer_part(definition: Definition, item: Mapping[str, Any], value: Any) -> Any:
    """What of an answer the question's markup shows, or ``...`` when the step is not kept."""
    if "widget" in item:
        return ...
    kind = item.get("type") or "choice"
    if kind == "choice":
        if value is None:
            return None
        key = code_key(value)
        return key if len(key) <= MAX_CODE_LENGTH else ...
    if kind == "boolean":
        return value if value is None or value is True or value is False else ...
    return ...


def _key(view: Any, values: Mapping[str, Any], handover: bool, timeout: int) -> tuple[Any, ...] | None:
    definition = view.definition
    declined = view.response.declined or []
    shown = {item["id"] for item in view.items}
    parts: list[tuple[Any, ...]] = []
    for item in view.page_items:
        item_id = item["id"]
        if item_id not in shown:
            parts.append((item_id, False))
            continue
        answer = _answer_part(definition, item, values.get(item_id))
        if answer is ...:
            return None
        parts.append((item_id, True, answer, item_id in declined))
    texts = view.texts
    return (id(definition), id(texts) if texts.official else None, view.lang, view.page["id"], view.index,
            view.total, handover, timeout, request.script_root, tuple(parts))


def render(view: Any, values: Mapping[str, Any], handover: bool, timeout: int,
           render_template: Callable[..., str]) -> str | None:
    """The step's fragment from the kept copy (rendering and keeping it first if need be).

    ``render_template(response=..., csrf_token=...)`` renders the fragment with
    the given stand-ins. ``None`` when this step is not one that is kept.
    """
    response = view.response
    if view.page is None or not params.is_uuid(response.uuid):
        return None
    key = _key(view, values, handover, timeout)
    if key is None:
        return None
    store = _fragments()
    entry = store.entries.get(key)
    texts = view.texts
    if entry is None or entry[0] is not view.definition or (texts.official and entry[1] is not texts):
        html = render_template(response=_Marked(list(response.declined or [])), csrf_token=lambda: TOKEN_MARK)
        entry = (view.definition, texts if texts.official else None, html)
        with store.lock:
            if len(store.entries) >= MAX_FRAGMENTS:
                store.entries.pop(next(iter(store.entries)))
            store.entries[key] = entry
    return (entry[2].replace(RESPONSE_MARK, response.uuid)
            .replace(VERSION_MARK, str(response.version))
            .replace(TOKEN_MARK, str(escape(form_token()))))
