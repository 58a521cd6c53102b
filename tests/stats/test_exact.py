"""Exact permutation p-values (quant_safety.stats.exact) against scipy and, for
tied data, against rational arithmetic over every pairing."""
from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from quant_safety.stats.exact import EXACT_MAX_N, exact_pvalues


def _scipy_exact(x, y):
    method = stats.PermutationMethod(n_resamples=np.inf)
    return (stats.pearsonr(x, y, method=method).pvalue,
            stats.pearsonr(stats.rankdata(x), stats.rankdata(y), method=method).pvalue)


@pytest.mark.parametrize("n", [3, 5, 8])
def test_untied_samples_equal_scipy(n):
    rng = np.random.default_rng(n)
    for _ in range(3):
        x = rng.normal(size=n)
        y = 0.6 * x + rng.normal(size=n)
        assert exact_pvalues(x, y) == pytest.approx(_scipy_exact(x, y), abs=1e-12)
    # perfect association: the observed pairing and its mirror are the extremes
    assert exact_pvalues(x, 2 * x + 1) == pytest.approx((2 / math.factorial(n),) * 2)


def _rational_p(x, y):
    xs, ys = [Fraction(v) for v in x], [Fraction(v) for v in y]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    obs = sum((a - mx) * (b - my) for a, b in zip(xs, ys))
    null = [sum((xs[i] - mx) * (ys[p[i]] - my) for i in range(len(xs))) for p in itertools.permutations(range(len(xs)))]
    less = sum(v <= obs for v in null) / len(null)
    greater = sum(v >= obs for v in null) / len(null)
    return min(1.0, 2 * min(less, greater))


def test_tied_samples_equal_rational_arithmetic():
    # 2-dp deltas with ties (refusal deltas repeat) and a zero observed rho
    x = [-1.0, 0.0, -1.0, 0.0, 1.0, 0.0]
    y = [-1.0, 1.0, 0.0, 2.0, -2.0, 1.0]
    pearson, spearman = exact_pvalues(x, y)
    assert pearson == pytest.approx(_rational_p(x, y))
    assert spearman == pytest.approx(_rational_p(list(stats.rankdata(x)), list(stats.rankdata(y))))
    x2 = [0.45, -0.91, 0.45, 1.82, -3.18, 0.45, 2.5]
    y2 = [-0.15, -0.48, -0.67, 1.88, 0.98, -9.61, 0.0]
    assert exact_pvalues(x2, y2)[0] == pytest.approx(_rational_p(x2, y2))


def test_out_of_range_inputs_give_nan():
    assert all(math.isnan(p) for p in exact_pvalues([1, 2], [2, 1]))
    assert all(math.isnan(p) for p in exact_pvalues([1, 1, 1, 1], [1, 2, 3, 4]))
    n = EXACT_MAX_N + 1
    assert all(math.isnan(p) for p in exact_pvalues(np.arange(n), np.arange(n)[::-1]))
    # NaN pairs are dropped before counting
    p = exact_pvalues([1, 2, 3, np.nan, 4], [2, 1, 4, 5, 3])
    assert p == pytest.approx(_scipy_exact([1, 2, 3, 4], [2, 1, 4, 3]), abs=1e-12)
