"""'Today' and shown times are Danish time, whatever the server's clock zone; times are stored in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from formengine import clock
from formengine.config import ConfigError


def test_a_stored_utc_moment_is_shown_in_danish_time_summer_and_winter(make_app):
    app = make_app()
    with app.app_context():
        # 22:30 UTC on 30 June is 00:30 on 1 July in Copenhagen (summer time, UTC+2)
        assert clock.local_time(datetime(2026, 6, 30, 22, 30, tzinfo=UTC)) == "2026-07-01 00:30"
        assert clock.local_date(datetime(2026, 6, 30, 22, 30, tzinfo=UTC)) == date(2026, 7, 1)
        # winter time is UTC+1; a moment read back without a zone is UTC
        assert clock.local_time(datetime(2026, 12, 1, 12, 0)) == "2026-12-01 13:00"
        assert clock.local_time(None) == "" and clock.local_date(None) is None
        assert clock.today() == datetime.now(UTC).astimezone(clock.zone()).date()


def test_the_time_zone_is_a_setting_and_a_wrong_one_is_refused_at_start(make_app):
    app = make_app(TIMEZONE="UTC")
    with app.app_context():
        assert clock.local_time(datetime(2026, 6, 30, 22, 30, tzinfo=UTC)) == "2026-06-30 22:30"
    with pytest.raises(ConfigError, match="time zone"):
        make_app(TIMEZONE="Europe/Nowhere")
