"""Column layout shared by the long CSV export and the CSV import (so an export can be read back)."""

from __future__ import annotations

# Leading columns of the long layout, in order. ``birth_date`` appears only in an
# identifiable export; a pseudonymised one has ``age`` instead.
# The ``about_*`` columns describe the person answered about (the child of a parent's
# report about a child), so a file imports on its own, in any order; ``enrolled_on`` is the family's.
LONG_COLUMNS_PSEUDONYMOUS = (
    "response_id", "municipality", "family", "person", "about", "role", "sex", "age",
    "about_role", "about_sex", "about_age", "enrolled_on",
    "wave", "wave_kind", "instrument", "instrument_version", "scoring_version",
    "mode", "language", "wording", "wording_sha256", "created_at", "submitted_at",
)
LONG_COLUMNS_IDENTIFIABLE = tuple(
    {"age": "birth_date", "about_age": "about_birth_date"}.get(c, c) for c in LONG_COLUMNS_PSEUDONYMOUS
)
ALL_META_COLUMNS = frozenset(LONG_COLUMNS_PSEUDONYMOUS) | {"birth_date", "about_birth_date"}

SCORE_PREFIX = "score_"
BAND_PREFIX = "band_"
VALID_COLUMN = "score_valid"
FLAGS_COLUMN = "score_flags"

# Missing-value codes in item columns: empty = not answered; DECLINED = the
# respondent chose not to answer (numeric items; text codes use DECLINED_TEXT).
DECLINED = -8
DECLINED_TEXT = "declined"


def score_column(name: str) -> str:
    return SCORE_PREFIX + name


def band_column(name: str) -> str:
    return BAND_PREFIX + name


def group_count_column(group: str) -> str:
    """A repeatable group's number of entries."""
    return f"{group}_n"


def group_entry_column(group: str, number: int, field: str) -> str:
    """One field of entry ``number`` (from 1) of a repeatable group: ``group_2_field``."""
    return f"{group}_{number}_{field}"
