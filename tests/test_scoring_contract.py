"""Half-up rounding and the ScoreResult shape that every instrument returns."""

import pytest

from formengine.api import ScoreResult, band_for, round_half_up


@pytest.mark.parametrize("value, expected", [
    (0.5, 1), (1.5, 2), (2.5, 3), (6.6666, 7), (2.4999, 2), (3.0, 3), (0.0, 0), (41.5, 42),
])
def test_round_half_up_never_rounds_to_even(value, expected):
    assert round_half_up(value) == expected
    assert isinstance(round_half_up(value), int)


def test_round_half_up_to_decimals():
    assert round_half_up(2.675, 2) == 2.68
    assert round_half_up(3.125, 2) == 3.13
    assert round_half_up(4.444, 2) == 4.44


def test_score_result_round_trips_and_flags_once():
    result = ScoreResult(valid=False, scores={"a": None})
    result.flag("missing_items", "x")
    result.flag("missing_items", "y")
    assert result.flag_codes() == ["missing_items"]
    assert ScoreResult.from_dict(result.to_dict()) == result


def test_band_for_inclusive_edges():
    bands = [("low", 0, 8), ("high", 9, 42)]
    assert band_for(8, bands) == "low"
    assert band_for(9, bands) == "high"
    assert band_for(None, bands) is None
    assert band_for(43, bands) is None
