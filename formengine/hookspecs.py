"""Every hook a formengine plugin can implement.

A plugin is a module (or package) with functions decorated by
``formengine.hookimpl`` whose names match the specifications below. An
implementation may accept fewer arguments than the specification names;
hooks grow by adding arguments, never by renaming them or changing their
meaning. ``docs/plugins.md`` documents each hook with an example.

The core calls every hook guarded, one implementation at a time: one that
raises is logged with its plugin's name and the error's class, skipped, and
the page or command goes on (see "When a plugin fails" in docs/plugins.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy
from markupsafe import Markup

if TYPE_CHECKING:
    from formengine.alerts import AlertNotice
    from formengine.instruments import Definition, Instrument
    from formengine.texts import TextSource

hookspec = pluggy.HookspecMarker("formengine")


@hookspec
def formengine_instruments() -> Iterable[Instrument]:
    """Return the instruments this plugin provides.

    Called once per application, while ``create_app`` loads plugins.
    Returns an iterable of :class:`formengine.api.Instrument`. Results of all
    plugins are combined; an instrument id registered by a second plugin is
    refused with a message naming both plugins, and the first one stays.
    """


@hookspec(firstresult=True)
def formengine_render_widget(item: Mapping[str, Any], definition: Definition, value: Any, lang: str,
                             texts: TextSource) -> Markup | None:
    """Render the input for an item whose definition names a ``widget``.

    Called by the form stepper for every item with a ``"widget"`` key.
    ``item`` is the item's definition (a dict), ``definition`` the
    :class:`formengine.api.Definition`, ``value`` the current answer (or None),
    ``lang`` "da" or "en", ``texts`` the active wording source. Return HTML
    (``markupsafe.Markup``) with form controls named after the item id, or None
    when the widget is not yours. The first non-None result is used; with no
    result the stepper falls back to the item type's standard control.

    The stepper puts the result inside the question's ``fieldset`` under its
    ``legend``, so return the controls only. Posted values use the standard
    encoding: the JSON of the code for a choice (``"concern"``, ``3``),
    ``true``/``false`` for yes/no, ``YYYY-MM-DD`` for a date, plain text or a
    number otherwise. Inside a repeatable group the stepper names controls
    ``<group>__<index>__<item>``, which this hook is not told, so give widgets
    to top-level items only. ``texts.item(item, lang)`` and
    ``texts.option(item, option, lang)`` give the wording in use.
    """


@hookspec(firstresult=True)
def formengine_result_view(response: Any, instrument: Instrument, history: Sequence[Any],
                           lang: str) -> Markup | None:
    """Render the result of a submitted response, for instruments that want their own view.

    Called on the result page. ``response`` is the stored response (answers,
    scores), ``instrument`` its :class:`formengine.api.Instrument`,
    ``history`` the same person's earlier submitted responses to the same
    instrument (oldest first), ``lang`` "da" or "en". Return HTML
    (``markupsafe.Markup``) or None to keep the standard score table. The first
    non-None result is used.

    Plugins may read these attributes of ``response`` and of each ``history``
    entry: ``answers`` (item id -> answer), ``submitted_at`` and ``created_at``
    (aware UTC datetimes), ``instrument_version``, ``language`` and
    ``current_score`` (``scores``, ``bands``, ``flags``, ``valid``; may be None).
    Everything else on them is private. Answers are the family's own words:
    render through ``formengine.api.render_plugin_template`` (autoescaped).
    """


@hookspec
def formengine_default_plan() -> Iterable[Mapping[str, Any]]:
    """Return the measurement-plan rules this plugin proposes for a new municipality.

    Called when a municipality's plan is seeded (on creation or first use).
    Returns an iterable of plain dicts, one rule each::

        {"instrument_id": "who5",          # rules naming an instrument that is not
                                           # installed are ignored
         "respondent_role": "youth",       # child | youth | parent | other | municipality
                                           # (child and youth both match children and
                                           # young people; age decides)
         "about": "self",                  # self | child (a parent answers about each
                                           # child in range) | municipality
         "min_age": 18, "max_age": None,   # whole years at the measurement date, inclusive;
                                           # for about=child, the child's age
         "waves": ["baseline", "progress", "closing"],
         "filled_by": "respondent"}        # respondent | team_member

    The results of all plugins are combined. A municipality administrator may
    edit the seeded plan; later changes to this hook do not alter stored plans.
    """


@hookspec
def formengine_alert(alert: AlertNotice, instrument: Instrument | None) -> None:
    """Pass on an alert, e.g. e-mail a team leader; the core itself sends nothing.

    Called once per alert: when a submitted response is scored with a flag of
    level ``alert`` (see :class:`formengine.api.Flag`), after it is stored.
    ``alert`` has ``code``, ``message``, ``instrument_id``, ``response_uuid``,
    ``municipality`` (its name) and ``raised_at`` (aware UTC datetime) and
    nothing personal: no answers, names or birth dates. ``instrument`` is the
    :class:`formengine.api.Instrument` (or None if no longer installed). The
    return value is ignored; every plugin's implementation is called, and one
    that raises is logged and does not stop the others.
    """
