"""What the tablet needs to keep answers safely while the network is away.

``/offline/key`` hands the logged-in team member's device the key that the
answer queue (``static/answer-queue.js``) encrypts its waiting saves with
(AES-GCM in the browser). The key is never stored on the device: the page
fetches it when it loads and keeps it in memory. It is derived on the server
from the application's secret, the user and their *session version*, so it
stays the same across page loads and a new login after an idle timeout (the
waiting answers can still be sent), and changes when the user logs out, their
password changes or an administrator ends their sessions: waiting saves
encrypted under the old key can then no longer be read by anyone. See
``docs/offline.md``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    render_template,
    render_template_string,
    request,
    send_from_directory,
    session,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from formengine import audit
from formengine.db import db_session
from formengine.instruments import Definition, code_key
from formengine.instruments.codec import DEFAULT_MAX_ENTRIES, MESSAGES
from formengine.models import Response
from formengine.registry import get_registry
from formengine.security import verify_secret
from formengine.web import sessions
from formengine.web.access import response_or_404, ui_lang
from formengine.web.fill import StepView, _render_step_fragment, _widget_html, texts_for
from formengine.web.handover import MAX_UNLOCK_FAILURES, UNLOCK_FAILURES_KEY, in_handover

bp = Blueprint("offline", __name__)


def device_key(secret: str | bytes, user_id: int, session_version: int) -> bytes:
    """The 256-bit key for one user's waiting saves at one session version."""
    secret_bytes = secret.encode() if isinstance(secret, str) else secret
    message = f"formengine-offline-queue|{user_id}|{session_version}".encode()
    return hmac.new(secret_bytes, message, hashlib.sha256).digest()


@bp.route("/offline")
def offline_page():
    """The page the service worker shows when another page cannot be loaded (no personal data)."""
    return render_template("offline.html")


@bp.route("/sw.js")
def service_worker():
    """The service worker, served from the root so that it may answer for every page of the app."""
    reply = send_from_directory(current_app.static_folder or "static", "offline-sw.js",
                                mimetype="text/javascript", max_age=0)
    reply.headers["Cache-Control"] = "no-cache"
    reply.headers["Service-Worker-Allowed"] = "/"
    return reply


@bp.route("/offline/key")
@login_required
def key():
    """The current device key (JSON, never cached); a key id lets the device tell keys apart."""
    raw = device_key(current_app.config["SECRET_KEY"], current_user.id, current_user.session_version or 0)
    key_id = hashlib.sha256(raw).hexdigest()[:16]
    return jsonify({"key": base64.b64encode(raw).decode(), "id": key_id})


# -- a form prepared for finishing without a network ------------------------------------

PIN_ITERATIONS = 310_000  # PBKDF2-SHA-256, as the browser checks it (WebCrypto)


def pin_verifier(secret: str, iterations: int = PIN_ITERATIONS) -> dict[str, Any]:
    """A salted PBKDF2 verifier of the secret the team member typed, for checking it on the tablet."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, iterations)
    return {"salt": base64.b64encode(salt).decode(), "iterations": iterations,
            "hash": base64.b64encode(digest).decode()}


class _EveryQuestion(StepView):
    """One step with every question rendered (the tablet shows or hides them by their conditions)."""

    def __init__(self, response: Response, definition: Definition, index: int, lang: str):
        self.response = response
        self.definition = definition
        self.lang = lang
        self.texts = texts_for(definition, self.lang)
        self.pages = list(definition.pages)
        self.page = self.pages[index]
        self.index = index

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.page_items


def _item_meta(definition: Definition, texts: Any, lang: str, item: dict[str, Any]) -> dict[str, Any]:
    """What the tablet needs to show, check and read back one item (the codec's rules, the wording)."""
    kind = item.get("type") or "choice"
    meta: dict[str, Any] = {
        "type": kind, "show_if": item.get("show_if"), "label": texts.item(item, lang),
        "decline": definition.allows_decline(item),
        "required": bool(item.get("required", True)), "required_if": item.get("required_if"),
    }
    for rule in ("integer", "min", "max", "max_length", "multiline", "min_repeat"):
        if rule in item:
            meta[rule] = item[rule]
    if kind == "choice":
        options = definition.scale_options(item)
        meta["options"] = {code_key(o["code"]): texts.option(item, o, lang) for o in options}
        # The texts a posted field may hold (the codec's choice maps): a code's key, or its plain text
        # where that is unambiguous (a widget may post it so).
        plain: dict[str, list[Any]] = {}
        for option in options:
            plain.setdefault(str(option["code"]), []).append(option["code"])
        meta["codes"] = {text: codes[0] for text, codes in plain.items()
                         if len(codes) == 1 and text not in meta["options"]}
        meta["codes"].update({code_key(o["code"]): o["code"] for o in options})
    if kind == "group":
        meta["max_repeat"] = item.get("max_repeat", DEFAULT_MAX_ENTRIES)
        meta["order"] = [sub["id"] for sub in item["items"]]
        meta["items"] = {sub["id"]: _item_meta(definition, texts, lang, sub) for sub in item["items"]}
    return meta


# One entry of a repeatable group with placeholders for its index (%I%) and number (%N%).
_ENTRY_TEMPLATE = ('{% from "fill/_macros.html" import group_entry with context %}'
                   '{{ group_entry(item, item.id, {}, "%I%", "%N%") }}')


def _language_texts(response: Response, definition: Definition, lang: str) -> dict[str, Any]:
    """The form in one answer language: every step rendered, the items' wording, the page's words."""
    texts = texts_for(definition, lang)
    pages = []
    for index, page in enumerate(definition.pages):
        view = _EveryQuestion(response, definition, index, lang)
        pages.append({"id": page["id"], "items": list(page["items"]),
                      "html": _render_step_fragment(view, values={})})
    with force_locale(lang):
        entries = {item["id"]: render_template_string(
                       _ENTRY_TEMPLATE, item=item, definition=definition, texts=texts, lang=lang,
                       response=response, widget=_widget_html, code_key=code_key)
                   for item in definition.items if item.get("type") == "group"}
        words = {
            "review": _("Check the answers"), "missing": _("Questions not answered yet: %(num)s", num=0),
            "all_answered": _("All questions are answered."), "submit": _("Submit the answers"),
            "thanks": _("Thank you for your answers"), "unlock_title": _("Take the tablet back"),
            "secret": _("PIN or password"), "unlock": _("Unlock"), "give_back": _("Give the tablet back"),
            "wrong": _("Wrong PIN or password. %(left)s tries left.", left=0),
            "queued": _("The answers are kept on the tablet and sent when there is a connection."),
            "locked": _("Too many wrong tries. Log in again when there is a connection."),
            "title": definition.title(lang), "your_answers": _("Your answers"), "question": _("Question"),
            "answer": _("Answer"), "not_answered": _("Not answered"), "declined": _("Did not want to answer"),
            "must": _("must be answered"), "yes": _("Yes"), "no": _("No"),
            "entry": _("Entry %(n)s", n="%N%"), "no_entries": _("No entries yet."),
            "add_entry": _("Add an entry"), "decline": _("Don't want to answer"),
            "declined_note": _("You chose not to answer this question."),
            "hidden": _("Some earlier answers no longer apply because of later answers. "
                        "They will not be submitted:"),
            "incomplete": _("The answers were not submitted. Answer the questions marked “must be answered” "
                            "first, or choose “Don't want to answer” where it is offered."),
        }
    # The codec's reasons for refusing a value, worded as the server words them in this language.
    problems = {reason: pair[0 if lang == "da" else 1] for reason, pair in MESSAGES.items()}
    return {"pages": pages, "entries": entries, "words": words, "problems": problems,
            "items": {item["id"]: _item_meta(definition, texts, lang, item) for item in definition.items}}


def secret_confirmed(secret: str) -> bool:
    """Whether ``secret`` is the team member's PIN or password; wrong guesses count with the unlock form's.

    Five wrong ones (here, when preparing a visit, or on the unlock form) end the session.
    """
    if secret and (verify_secret(current_user.pin_hash, secret)
                   or verify_secret(current_user.password_hash, secret)):
        session.pop(UNLOCK_FAILURES_KEY, None)
        return True
    failures = int(session.get(UNLOCK_FAILURES_KEY, 0)) + 1
    session[UNLOCK_FAILURES_KEY] = failures
    if failures >= MAX_UNLOCK_FAILURES:
        sessions.end_all(current_user._get_current_object())
        audit.record(db_session(), "login_failed", "user", current_user.id, {"reason": "prepare"})
        db_session().commit()
        logout_user()
        sessions.clear()
    return False


def prepared_form(response: Response, verifier: dict[str, Any]) -> dict[str, Any]:
    """Everything the stepper needs to finish ``response`` without a network (recorded as a view)."""
    instrument = get_registry().get(response.instrument_id)
    if instrument is None:
        abort(404)
    definition = instrument.definition
    lang = response.language if response.language in current_app.config["LANGUAGES"] else "da"
    # Every answer language, so the respondent can switch without a network (see docs/offline.md):
    # the form's own at the top, the others under "languages".
    languages = {code: _language_texts(response, definition, code)
                 for code in current_app.config["LANGUAGES"]}
    others = {code: texts for code, texts in languages.items() if code != lang}
    audit.record(db_session(), "view", "response", response.uuid, {"page": "offline"},
                 municipality_id=response.municipality_id)
    return {
        "response": response.uuid, "version": response.version, "lang": lang,
        "answers": response.answers or {}, "declined": response.declined or [],
        "team_lang": ui_lang(), "languages": others, **languages[lang],
        "switch": {"da": "Svar på dansk", "en": "Answer in English"},
        "verifier": verifier,
    }


@bp.route("/fill/<response_uuid>/offline", methods=["POST"])
@login_required
def prepare(response_uuid: str):
    """Everything the open stepper needs to finish this draft without a network (JSON).

    The team member confirms with their PIN or password; the reply carries a
    salted verifier of it, so the tablet can be unlocked offline with the same
    secret. The page keeps the reply encrypted on the tablet (``static/offline-store.js``,
    see ``docs/offline.md``).
    """
    response = response_or_404(response_uuid)
    if response.status != "draft" or in_handover():
        return jsonify({"error": _("This form cannot be prepared now.")}), 409
    secret = request.form.get("secret", "")
    if not secret_confirmed(secret):
        return jsonify({"error": _("Wrong PIN or password.")}), 403
    bundle = prepared_form(response, pin_verifier(secret))
    db_session().commit()
    return jsonify(bundle)
