"""WHO-5 Well-Being Index (``who5``): five items, raw 0-25, percent 0-100 with bands."""

from pathlib import Path

from formengine.api import Instrument, Setting, hookimpl, load_definition

from .scoring import SCORING_VERSION, score

# Which band cut-offs a municipality reads WHO-5 percent scores with (see scoring.BAND_SCHEMES).
BAND_SCHEME = Setting(
    name="who5_band_scheme",
    label={"da": "Båndinddeling", "en": "Band scheme"},
    default="topp2015",
    choices=(
        ("topp2015", {"da": "Topp et al. 2015: 0-28 / 32-50 / 52-100",
                      "en": "Topp et al. 2015: 0-28 / 32-50 / 52-100"}),
        ("dk_practice", {"da": "Dansk praksis: 0-35 / 36-50 / 51-100",
                         "en": "Danish practice: 0-35 / 36-50 / 51-100"}),
    ),
    help={"da": "Hvilke grænser procentscoren læses med. Ændringen gælder nye scoringer.",
          "en": "Which cut-offs the percent score is read with. The change applies to new scores."},
)

REQUIRES_API = ">=1.0,<2"
__version__ = "1.0.0"


@hookimpl
def formengine_instruments():
    definition = load_definition(Path(__file__).with_name("definition.json"))
    return [Instrument(definition=definition, score=score, scoring_version=SCORING_VERSION,
                       settings=(BAND_SCHEME,))]


@hookimpl
def formengine_default_plan():
    """Young people aged 18 or more answer WHO-5 about themselves at every wave."""
    return [{"instrument_id": "who5", "respondent_role": "youth", "min_age": 18,
             "waves": ["baseline", "progress", "closing"]}]
