"""Plain-language explanations of validity flags, in the reader's language.

The scoring's own message is English and technical; the team member reads the
definition's ``flag_texts`` for the code, else the explanation of the
conventional codes every instrument may use (see the instrument conventions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _


def _conventional(code: str) -> str | None:
    texts = {
        "missing_items": _("Not scored: questions that must be answered before this instrument "
                           "can be scored are unanswered."),
        "prorated": _("Calculated from the answered questions (scaled up), because a few "
                      "answers are missing."),
        "scale_missing": _("A subscale could not be scored because too many of its questions are "
                           "unanswered; scores built on it are left empty."),
        "no_norm_table": _("The norm table is not installed, so the normed score cannot be computed."),
        "scoring_failed": _("Not scored: the instrument's plugin had an error. The answers are kept and "
                            "can be scored again once the plugin is fixed."),
    }
    return texts.get(code)


def explain_flag(flag: Mapping[str, Any], definition: Any, lang: str) -> dict[str, str]:
    """``{"text": what the reader is shown, "detail": the scoring's message when it adds something}``."""
    message = flag.get("message", "")
    text = (definition.flag_text(flag["code"], lang) if definition is not None else None) or _conventional(
        flag["code"]
    )
    if text is None:
        return {"text": message, "detail": ""}
    return {"text": text, "detail": message if lang == "en" and message != text else ""}
