"""The programme's own forms and its measurement plan.

Five instruments from how the family programme documented its work (see
``shared/instruments/programme.md``): ``background_child``, ``background_parent``
(at enrolment), ``progress_child``, ``progress_parent`` (every wave) and
``fidelity`` (answered for the municipality, three index scores). The
wording is the project's own, in Danish and English.

The plugin also proposes the programme's default measurement plan, including
rules for instruments other plugins provide (the programme decides, for
example, that parents answer the parent SDQ for each child aged 4-17); a rule
whose instrument is not installed simply never appears.
"""

from pathlib import Path

from formengine.api import Instrument, hookimpl, load_definition

from .scoring import SCORING_VERSION, score_fidelity

REQUIRES_API = ">=1.0,<2"
__version__ = "1.0.0"

HERE = Path(__file__).parent
UNSCORED = ("background_child", "background_parent", "progress_child", "progress_parent")

ALL_WAVES = ["baseline", "progress", "closing"]

# The programme's plan. Ages are whole years at the measurement date, inclusive.
PLAN = [
    # Background forms at enrolment, by the team member.
    {"instrument_id": "background_child", "respondent_role": "child", "waves": ["baseline"],
     "filled_by": "team_member"},
    {"instrument_id": "background_parent", "respondent_role": "parent", "waves": ["baseline"],
     "filled_by": "team_member"},
    # Progress forms at every wave, by the team member with the child or parent.
    {"instrument_id": "progress_child", "respondent_role": "child", "waves": ALL_WAVES,
     "filled_by": "team_member"},
    {"instrument_id": "progress_parent", "respondent_role": "parent", "waves": ALL_WAVES,
     "filled_by": "team_member"},
    # Standardised questionnaires at every wave.
    {"instrument_id": "kidscreen10_child", "respondent_role": "child", "min_age": 8, "max_age": 18,
     "waves": ALL_WAVES},
    {"instrument_id": "sdq_s11_17", "respondent_role": "child", "min_age": 11, "max_age": 17,
     "waves": ALL_WAVES},
    {"instrument_id": "pss", "respondent_role": "parent", "waves": ALL_WAVES},
    {"instrument_id": "sdq_p4_17", "respondent_role": "parent", "about": "child", "min_age": 4,
     "max_age": 17, "waves": ALL_WAVES},
    {"instrument_id": "yls_cmi", "respondent_role": "youth", "min_age": 12, "max_age": 17,
     "waves": ALL_WAVES, "filled_by": "team_member"},
    # The municipality's own round about every 6 months.
    {"instrument_id": "fidelity", "respondent_role": "municipality", "about": "municipality",
     "waves": ["baseline", "progress"], "filled_by": "team_member"},
]


@hookimpl
def formengine_instruments():
    instruments = [
        Instrument(definition=load_definition(HERE / f"{name}.json"), score=None, scoring_version="1")
        for name in UNSCORED
    ]
    instruments.append(Instrument(definition=load_definition(HERE / "fidelity.json"),
                                  score=score_fidelity, scoring_version=SCORING_VERSION))
    return instruments


@hookimpl
def formengine_default_plan():
    return [dict(rule) for rule in PLAN]
