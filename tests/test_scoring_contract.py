"""Half-up rounding and the ScoreResult shape that every instrument returns."""

import math
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

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


@pytest.mark.parametrize("value, expected", [
    (0.49999999999999994, 0), (-0.49999999999999994, 0), (-2.5, -3), (-1.5, -2), (-0.5, -1),
    (-2.4999, -2), (4503599627370495.5, 4503599627370496), (-7, -7),
])
def test_round_half_up_edge_cases_and_negatives_round_half_away_from_zero(value, expected):
    assert round_half_up(value) == expected
    assert isinstance(round_half_up(value), int)


def test_round_half_up_negative_decimals_mirror_positive_ones():
    assert round_half_up(-0.25, 1) == -0.3
    assert round_half_up(-2.675, 2) == -2.68
    assert round_half_up(-4.444, 2) == -4.44


def test_round_half_up_refuses_nan_and_infinity():
    for value in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            round_half_up(value)
        with pytest.raises(ValueError):
            round_half_up(value, 2)


def _decimal_half_up(value: float, ndigits: int) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-ndigits), rounding=ROUND_HALF_UP)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
@example(0.49999999999999994)
@example(-0.5)
@example(2.5)
@example(-1e-320)
def test_round_half_up_to_whole_numbers_agrees_with_decimal(value):
    assert round_half_up(value) == int(_decimal_half_up(value, 0))


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9),
       st.integers(min_value=1, max_value=4))
@example(-0.25, 1)
@example(2.675, 2)
def test_round_half_up_to_decimals_agrees_with_decimal(value, ndigits):
    assert round_half_up(value, ndigits) == float(_decimal_half_up(value, ndigits))


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
