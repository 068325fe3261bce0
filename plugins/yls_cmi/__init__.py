"""Youth Level of Service/Case Management Inventory (``yls_cmi``): 42 risk/need items in 8 domains.

Item wording, scoring criteria and domain norms are licensed by MHS: the
definition carries item numbers as labels; wording and norm packs come from a
licensed municipality. Strength marks are yes/no (boolean) items, one per
domain 2-8; ``override_level`` is a choice of low/moderate/high/very_high and
``override_reason`` a text that is required whenever an override is given.
"""

from pathlib import Path

from formengine.api import Instrument, hookimpl, load_definition

from .scoring import SCORING_VERSION, score

REQUIRES_API = ">=1.0,<2"
__version__ = "1.0.0"


@hookimpl
def formengine_instruments():
    definition = load_definition(Path(__file__).with_name("definition.json"))
    return [Instrument(definition=definition, score=score, scoring_version=SCORING_VERSION)]
