"""Mean and 95 % CI against scipy.stats.t."""

from __future__ import annotations

import math

import numpy as np
import pytest

from codecbench.bench.stats import regularized_beta, student_t_cdf, student_t_quantile, summarize


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7, 19, 50, 200, 5000])
def test_t_quantile_matches_scipy(df: int) -> None:
    stats = pytest.importorskip("scipy.stats")
    for p in (0.6, 0.9, 0.975, 0.995):
        assert student_t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-9, abs=1e-9)
        assert student_t_quantile(1 - p, df) == pytest.approx(stats.t.ppf(1 - p, df), rel=1e-9, abs=1e-9)
    assert student_t_cdf(1.3, df) == pytest.approx(stats.t.cdf(1.3, df), abs=1e-12)


def test_regularized_beta_matches_scipy() -> None:
    special = pytest.importorskip("scipy.special")
    for a, b, x in [(0.5, 0.5, 0.3), (2.0, 5.0, 0.2), (10.0, 0.5, 0.9), (100.0, 0.5, 0.99)]:
        assert regularized_beta(a, b, x) == pytest.approx(special.betainc(a, b, x), abs=1e-12)


@pytest.mark.parametrize("n", [2, 5, 30, 400])
def test_interval_matches_scipy(n: int) -> None:
    stats = pytest.importorskip("scipy.stats")
    values = np.random.default_rng(n).normal(3.0, 2.0, n)
    summary = summarize(values)
    low, high = stats.t.interval(0.95, n - 1, loc=values.mean(), scale=stats.sem(values))
    assert summary.mean == pytest.approx(values.mean())
    assert summary.half_width == pytest.approx((high - low) / 2, rel=1e-9)
    assert summary.n == n and summary.n_missing == 0


def test_nan_values_are_counted_and_left_out() -> None:
    summary = summarize([1.0, math.nan, 3.0])
    assert summary.mean == 2.0 and summary.n == 2 and summary.n_missing == 1
    single = summarize([4.0, math.nan])
    assert single.mean == 4.0 and math.isnan(single.half_width)
    empty = summarize([math.nan])
    assert empty.n == 0 and math.isnan(empty.mean)
    with pytest.raises(ValueError, match="infinite"):
        summarize([1.0, math.inf])
