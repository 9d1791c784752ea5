# .venv/bin/python -m pytest tests/postrun/test_postrun_stats.py -q
"""Wilson intervals and the two-proportion test against values computed independently."""

from __future__ import annotations

import math

import pytest

from picogate.postrun.stats import hits_of, two_proportion, wilson


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (18, 30, 0.4232, 0.7541),  # the example: 60% of 30 rows is roughly 60% +- 17%
    (0, 10, 0.0, 0.2775),
    (10, 10, 0.7225, 1.0),
    (6, 10, 0.3127, 0.8318),
    (1, 1, 0.2065, 1.0),
])
def test_wilson_known_values(k, n, low, high):
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_wilson_empty_is_missing_and_bad_counts_refused():
    assert wilson(0, 0) == (None, None)
    with pytest.raises(ValueError):
        wilson(5, 3)
    with pytest.raises(ValueError):
        wilson(-1, 3)


def test_two_proportion_matches_the_textbook_formula():
    z, p = two_proportion(27, 30, 18, 30)
    assert z == pytest.approx(2.6833, abs=1e-4) and p == pytest.approx(0.00729, abs=1e-5)
    z2, p2 = two_proportion(18, 30, 27, 30)
    assert z2 == pytest.approx(-z) and p2 == pytest.approx(p)


def test_two_proportion_noise_is_not_significant_and_degenerate_cases_are_defined():
    _, p = two_proportion(7, 10, 6, 10)  # 0.7 vs 0.6 on 10 rows: noise
    assert p > 0.5
    assert two_proportion(10, 10, 10, 10) == (0.0, 1.0)
    assert two_proportion(0, 0, 1, 5) == (None, None)


def test_hits_of_accepts_only_whole_counts():
    assert hits_of(0.3, 10) == 3
    assert hits_of(0.35, 10) is None  # not k/10: the table was not computed from 10 rows
    assert hits_of(float("nan"), 10) is None
    assert hits_of(None, 10) is None
    assert hits_of(0.5, 0) is None
    assert hits_of(1.0 + 1e-15, 7) == 7
    assert not math.isnan(wilson(hits_of(2 / 3, 3) or 0, 3)[0] or 0.0)
