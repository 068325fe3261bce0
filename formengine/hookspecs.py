"""Every hook a formengine plugin can implement.

A plugin is a module (or package) with functions decorated by
``formengine.hookimpl`` whose names match the specifications below. An
implementation may accept fewer arguments than the specification names;
hooks grow by adding arguments, never by renaming them or changing their
meaning. ``docs/plugins.md`` documents each hook with an example.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("formengine")


@hookspec
def formengine_instruments():
    """Return the instruments this plugin provides.

    Called once per application, while ``create_app`` loads plugins.
    Returns an iterable of :class:`formengine.api.Instrument`. Results of all
    plugins are combined; an instrument id registered by a second plugin is
    refused with a message naming both plugins, and the first one stays.
    """
