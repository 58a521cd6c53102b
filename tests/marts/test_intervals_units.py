"""The interval macros on hand-made cells (edge cases the demo never has: 0 of n,
n of n, n = 2, tiny and non-integer Welch df), run by DuckDB through one
`dbt show --inline` (on the scratch warehouse copy of tests/marts/conftest.py
`handmade`, whose dbt parse it shares), against statsmodels / scipy."""
from __future__ import annotations

import json
import math

import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

WILSON_ALPHA = 2 * (1 - stats.norm.cdf(1.96))

# (k1, n1, k0, n0): cell and baseline successes / rows
PROPORTIONS = [(0, 20, 20, 20), (20, 20, 0, 20), (1, 2, 2, 2), (70, 220, 206, 220), (0, 1, 1, 1),
               (5, 100, 5, 100), (199, 200, 3, 7)]
# per-row samples of two cells (t and Welch): tiny, unequal variances, constant side
SAMPLES = [([0.0, 0.5, 1.0], [1.0, 1.0, 0.5, 0.5, 0.0]), ([12.0, 40.0], [30.0, 31.0, 29.0, 33.0, 30.5, 28.0]),
           ([0.71, 0.74, 0.69, 0.80, 0.77, 0.73, 0.70], [0.60, 0.95, 0.20, 0.88]),
           ([1.0, 2.0, 3.0, 4.0], [2.5, 2.5, 2.5])]
DFS = [1, 1.5, 2, 2.7, 3, 3.5, 4, 5, 7.25, 10, 29.9, 100, 1000, 123456]


def _values(rows: list[tuple]) -> str:
    return " union all ".join("select " + ", ".join(f"cast({v} as double) as c{i}" for i, v in enumerate(r))
                              for r in rows)


@pytest.fixture(scope="module")
def shown(handmade):
    moments = []
    for x1, x0 in SAMPLES:
        m1, m0 = sum(x1) / len(x1), sum(x0) / len(x0)
        moments.append((len(x1), sum(x1), sum(v * v for v in x1), len(x0), sum(x0), sum(v * v for v in x0), m1, m0))
    cols = {"t": ["df", "t"], "p": ["c0", "c1", "c2", "c3", "lo1", "hi1", "dlo", "dhi", "mde"],
            "m": ["n1", "m1", "n0", "m0", "lo1", "hi1", "df", "dlo", "dhi"]}
    queries = {
        "t": f"select c0 as df, {{{{ quant_safety.t_quantile_975('c0') }}}} as t from ({_values([(d,) for d in DFS])}) as x",
        "p": f"""select c0, c1, c2, c3,
                   {{{{ quant_safety.wilson_lower('c0 / c1', 'c1') }}}} as lo1, {{{{ quant_safety.wilson_upper('c0 / c1', 'c1') }}}} as hi1,
                   {{{{ quant_safety.newcombe_lower('c0 / c1', quant_safety.wilson_lower('c0 / c1', 'c1'), 'c2 / c3', quant_safety.wilson_upper('c2 / c3', 'c3')) }}}} as dlo,
                   {{{{ quant_safety.newcombe_upper('c0 / c1', quant_safety.wilson_upper('c0 / c1', 'c1'), 'c2 / c3', quant_safety.wilson_lower('c2 / c3', 'c3')) }}}} as dhi,
                   {{{{ quant_safety.refusal_drop_mde_pp('c2 / c3', 'c1', 'c3') }}}} as mde
                 from ({_values(PROPORTIONS)}) as x""",
        "m": f"""select n1, m1, n0, m0, m1 - t1 * se1 as lo1, m1 + t1 * se1 as hi1, df,
                   (m1 - m0) - {{{{ quant_safety.t_quantile_975('df') }}}} * sqrt(v1 + v0) as dlo,
                   (m1 - m0) + {{{{ quant_safety.t_quantile_975('df') }}}} * sqrt(v1 + v0) as dhi
                 from (select *, {{{{ quant_safety.welch_df('v1', 'n1 - 1', 'v0', 'n0 - 1') }}}} as df,
                              {{{{ quant_safety.t_quantile_975('n1 - 1') }}}} as t1
                       from (select *, se1 * se1 as v1, se0 * se0 as v0
                             from (select c0 as n1, c6 as m1, c3 as n0, c7 as m0,
                                          {{{{ quant_safety.sd_from_sums('c0', 'c1', 'c2') }}}} / sqrt(c0) as se1,
                                          {{{{ quant_safety.sd_from_sums('c3', 'c4', 'c5') }}}} / sqrt(c3) as se0
                                   from ({_values(moments)}) as x) as a) as b) as c""",
    }
    # one dbt invocation (dbt's start-up dominates): the three result sets as one union
    width = max(len(c) for c in cols.values())
    union = " union all ".join(
        f"select '{k}' as kind, " + ", ".join(
            [f"cast({c} as double) as v{i}" for i, c in enumerate(cols[k])]
            + [f"cast(null as double) as v{i}" for i in range(len(cols[k]), width)]) + f" from ({q}) as {k}_rows"
        for k, q in queries.items())
    lines = handmade.dbt(["show", "--inline", union, "--limit", "-1", "--output", "json", "--log-format", "json"])
    preview = [json.loads(l)["data"]["preview"] for l in lines if l.startswith("{") and '"preview"' in l][-1]
    out = {k: [] for k in cols}
    for row in json.loads(preview):
        out[row["kind"]].append({c: row[f"v{i}"] for i, c in enumerate(cols[row["kind"]])})
    return out


def test_t_quantile_matches_scipy(shown):
    for row in shown["t"]:
        df = row["df"]
        expected = stats.t.ppf(0.975, math.floor(df) if df < 3 else df)   # df rounded down below 3
        assert row["t"] == pytest.approx(expected, rel=1e-5), df


def test_wilson_newcombe_and_mde_match_statsmodels(shown):
    power = NormalIndPower()
    for row, (k1, n1, k0, n0) in zip(shown["p"], PROPORTIONS):
        lo, hi = proportion_confint(k1, n1, alpha=WILSON_ALPHA, method="wilson")
        assert (row["lo1"], row["hi1"]) == pytest.approx((lo, hi), abs=1e-12)
        dlo, dhi = confint_proportions_2indep(k1, n1, k0, n0, method="newcomb", compare="diff", alpha=WILSON_ALPHA)
        assert (row["dlo"], row["dhi"]) == pytest.approx((dlo, dhi), abs=1e-12), (k1, n1, k0, n0)
        p0 = k0 / n0
        h = power.solve_power(effect_size=None, nobs1=n1, alpha=0.05, power=0.8, ratio=n0 / n1) if n1 > 1 else None
        angle = math.asin(math.sqrt(p0)) - h / 2 if h is not None else -1
        if angle < 0 or n1 <= 1:
            assert row["mde"] is None or n1 <= 1, (k1, n1, k0, n0)
        else:
            assert row["mde"] == pytest.approx(100 * (p0 - math.sin(angle) ** 2), rel=2e-4), (k1, n1, k0, n0)


def test_t_and_welch_intervals_match_statsmodels(shown):
    for row, (x1, x0) in zip(shown["m"], SAMPLES):
        d1 = DescrStatsW(x1)
        assert (row["lo1"], row["hi1"]) == pytest.approx(d1.tconfint_mean(alpha=0.05), rel=1e-5)
        if all(v == x0[0] for v in x0) and all(v == x1[0] for v in x1):
            continue
        df = row["df"]
        lo, hi = CompareMeans(d1, DescrStatsW(x0)).tconfint_diff(alpha=0.05, usevar="unequal")
        if df < 3:   # the macro rounds df down below 3 (wider, conservative)
            assert row["dlo"] <= lo + 1e-9 and row["dhi"] >= hi - 1e-9
        else:
            assert (row["dlo"], row["dhi"]) == pytest.approx((lo, hi), rel=1e-5)
