"""Exact permutation p-values for small samples (within-model correlations,
per-model BPW regressions: 5-9 points).

With n points there are n! pairings of y with x; under the null hypothesis of
no association each is equally likely. The exact two-sided p-value is scipy's
permutation-test p over ALL pairings: 2 * min(P(T <= t), P(T >= t)), capped at
1 (the convention of scipy.stats.permutation_test and of
scipy.stats.pearsonr(method=PermutationMethod(n_resamples=np.inf)), which these
numbers equal on untied data; tests/stats/test_exact.py). Ties: statistics
within 1e-12 (on the r scale) of the observed one count as equal. scipy's
tolerance is relative to the observed r, so at r = 0 floating-point noise
decides which tied pairings count; here the comparison is on the numerator
sum((x - mean x)(y - mean y)), exact for ranks, and the test checks tied cases
against rational arithmetic. For Spearman's rho the same test runs on the
ranks (average ranks for ties), i.e. the exact null distribution of rho.
For an OLS slope on one regressor the t statistic is a monotone function of
Pearson's r, so the slope's exact permutation p is Pearson's.

The t approximation (scipy's default p) is poor at these n: see the
`*_p_exact` columns next to the `*_p` ones. Above EXACT_MAX_N points the
exact count is not done and the exact p is NaN (the t approximation
is then adequate for the report's tests, n >= 33).

Cost: no n! enumeration - the pairings are counted by meeting in the middle
(C(n, n/2) subsets x (n/2)! orderings per half, sorted and searched), e.g.
252 x 120 values per half at n = 10, well under a millisecond per test.
"""
from __future__ import annotations

import itertools
import math
from functools import cache

import numpy as np

EXACT_MAX_N = 10


@cache
def _split(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairings of n points split in two halves (meet in the middle): for
    every subset of the y points given to the first h = n // 2 x points, the
    y index of each x point under every ordering of the subset (first half:
    C(n, h) x h! x h) and of its complement (second half: C(n, h) x (n-h)! x (n-h))."""
    h = n // 2
    first, second = [], []
    first_orders = list(itertools.permutations(range(h)))
    second_orders = list(itertools.permutations(range(n - h)))
    for subset in itertools.combinations(range(n), h):
        rest = [i for i in range(n) if i not in subset]
        first.append([[subset[k] for k in order] for order in first_orders])
        second.append([[rest[k] for k in order] for order in second_orders])
    return np.asarray(first, dtype=np.int16), np.asarray(second, dtype=np.int16)


def _ranks(v: np.ndarray) -> np.ndarray:
    """Average ranks (scipy.stats.rankdata's, without its per-call overhead)."""
    from ._common import _rank_average

    return _rank_average(v)


def _exact_two_sided(x: np.ndarray, y: np.ndarray) -> float:
    """The exact two-sided permutation p of Pearson's r between x and y.

    The statistic is the numerator sum((x - mean x)(y - mean y)) (the norms do
    not change under a permutation). Each pairing is a subset of y points for
    the first half of the x points plus an ordering of each half, so its
    numerator is a + b with a from the first half's list and b from the
    second's; the pairings at or beyond the observed value are counted by
    sorting each subset's b values (no n! enumeration)."""
    n = len(x)
    xm = x - x.mean()
    ym = y - y.mean()
    denominator = math.sqrt(float(xm @ xm) * float(ym @ ym))
    if denominator == 0:
        return math.nan
    observed = float(xm @ ym)
    gamma = 1e-12 * denominator
    h = n // 2
    first, second = _split(n)
    a = ym[first] @ xm[:h]                      # (subsets, h!)
    b = np.sort(ym[second] @ xm[h:], axis=1)    # (subsets, (n-h)!), sorted per subset
    # one global sorted array: subset s's values shifted by s * span
    span = 4.0 * (np.abs(a).max() + np.abs(b).max() + abs(observed) + gamma + 1.0)
    shift = span * np.arange(len(b))[:, None]
    flat = (b + shift).ravel()
    start = np.arange(len(b)) * b.shape[1]
    at_most = np.searchsorted(flat, (observed + gamma - a) + shift, side="right") - start[:, None]
    below = np.searchsorted(flat, (observed - gamma - a) + shift, side="left") - start[:, None]
    total = math.factorial(n)
    less = at_most.sum() / total
    greater = (b.shape[1] * a.size - below.sum()) / total
    return float(min(1.0, 2 * min(less, greater)))


def exact_pvalues(x, y, spearman: bool = True) -> tuple[float, float]:
    """(Pearson exact p, Spearman exact p) on the finite pairs of x and y;
    NaN when n < 3, n > EXACT_MAX_N or an input is constant (Spearman NaN
    too when ``spearman`` is false)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or len(x) > EXACT_MAX_N or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    rho_p = _exact_two_sided(_ranks(x), _ranks(y)) if spearman else math.nan
    return _exact_two_sided(x, y), rho_p
