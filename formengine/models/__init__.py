"""SQLAlchemy 2.0 models for the whole data model (see docs/DESIGN in shared)."""

from formengine.models.alerts import Alert
from formengine.models.audit import AuditChain, AuditEvent
from formengine.models.base import Base, utcnow
from formengine.models.cases import PERSON_ROLES, SEXES, WAVE_KINDS, Consent, Family, Person, Wave
from formengine.models.catalogue import InstrumentSetting, PlanRule
from formengine.models.definitions import DefinitionVersion
from formengine.models.people import (
    ROLE_MUNICIPALITY_ADMIN,
    ROLE_SYSADMIN,
    ROLE_TEAM_MEMBER,
    ROLES,
    Municipality,
    User,
)
from formengine.models.plugin_settings import PluginSettingValue
from formengine.models.rescoring import RescoreRun
from formengine.models.responses import MODES, Response, Score

__all__ = [
    "MODES",
    "PERSON_ROLES",
    "ROLES",
    "ROLE_MUNICIPALITY_ADMIN",
    "ROLE_SYSADMIN",
    "ROLE_TEAM_MEMBER",
    "SEXES",
    "WAVE_KINDS",
    "Alert",
    "AuditChain",
    "AuditEvent",
    "Base",
    "Consent",
    "DefinitionVersion",
    "Family",
    "InstrumentSetting",
    "Municipality",
    "Person",
    "PlanRule",
    "PluginSettingValue",
    "RescoreRun",
    "Response",
    "Score",
    "User",
    "Wave",
    "utcnow",
]
