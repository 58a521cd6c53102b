"""Per-model OLS of metric LEVELS on bits-per-weight (TR142 SS13, Table 13).

Reading: the regression is of the metric LEVEL (fraction), not the delta, on
``bpw`` across ALL of that model's cells INCLUDING the baseline cell (FP16 at
16.0 bpw, or Q8_0 at 8.0 for models whose baseline is Q8_0).  Only this reading
reproduces Table 13 on the reference data (41-cell / 47-cell scope =
``through_wave_1``): llama3.2-1b refusal slope +0.039 R^2 0.282 p 0.141 (n 9),
mistral-7b +0.023 / 0.653 (0.654 at full precision) / 0.052 (n 6), and the
"--" row of qwen2.5-7b is +0.024 / 0.666 / 0.048 (inconsistencies.md item 15),
so Table 13's "none reach p < 0.05" is wrong for qwen2.5-7b.  Excluding the
baseline gives e.g. llama3.2-1b +0.122 / 0.488 / 0.054, which matches nothing.
With the wave-2 cells (``all_cells``) mistral-7b becomes +0.030 / 0.527 / 0.041.

Every model present is regressed (none is skipped); n < 3 or constant bpw or
constant metric gives NaN and a flag.  Coefficient p-values are the usual OLS
t-test on the slope (statsmodels); ``p_exact`` is the slope's exact
permutation p (all n! pairings of metric and bpw for n <= 10; equal to
Pearson's exact p, quant_safety.stats.exact), NaN for more points.
"""
from __future__ import annotations

import math
import warnings

import pandas as pd

from ._common import (
    FLAG_CONSTANT,
    FLAG_MISSING_COLUMN,
    FLAG_N_LT_3,
    FLAG_OK,
    LEVEL_METRICS,
    PairedColumns,
    group_positions,
    is_constant,
    iter_scopes,
    sort_rows,
)
from .exact import exact_pvalues
from .fit_cache import memo

BPW_COLUMNS = [
    "scope",
    "base_model",
    "metric",
    "include_baseline",
    "n",
    "slope",
    "slope_se",
    "intercept",
    "r2",
    "p",
    "p_exact",
    "flag",
]


def _ols_fit(x, y) -> dict:
    """OLS ``y ~ x`` (n >= 3, neither constant): slope, its SE, intercept, R², p and the exact p."""
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.OLS(y, sm.add_constant(x, has_constant="add")).fit()
    return {
        "slope": float(fit.params[1]),
        "slope_se": float(fit.bse[1]),
        "intercept": float(fit.params[0]),
        # in [0, 1] for OLS with an intercept; 1 - ssr/tss can land an ulp
        # outside when the slope is ~0 or the fit is perfect
        "r2": min(1.0, max(0.0, float(fit.rsquared))),
        "p": float(fit.pvalues[1]) if len(x) > 2 else math.nan,
        "p_exact": float(exact_pvalues(x, y, spearman=False)[0]),
    }


def bpw_regressions(
    matrix: pd.DataFrame,
    metrics=LEVEL_METRICS,
    include_baseline: bool = True,
) -> pd.DataFrame:
    """OLS ``metric ~ bpw`` per scope, base_model and metric (levels, fractions)."""

    rows = []
    for scope, df in iter_scopes(matrix, include_baseline=include_baseline):
        models = sorted(df["base_model"].dropna().unique()) if "base_model" in df else []
        if models:
            # rows of each model (= df.loc[df["base_model"] == model]), found once
            positions = group_positions(df["base_model"])
            columns = PairedColumns(df)
        for model in models:
            idx = positions[model]
            for metric in metrics:
                base = {"scope": scope, "base_model": model, "metric": metric,
                        "include_baseline": include_baseline}
                nan = {"slope": math.nan, "slope_se": math.nan, "intercept": math.nan,
                       "r2": math.nan, "p": math.nan, "p_exact": math.nan}
                if metric not in df.columns or "bpw" not in df.columns:
                    rows.append({**base, "n": 0, **nan, "flag": FLAG_MISSING_COLUMN})
                    continue
                x, y = columns.get("bpw", metric, idx)  # = paired(rows of model, "bpw", metric)
                n = len(x)
                if n < 3:
                    rows.append({**base, "n": n, **nan, "flag": FLAG_N_LT_3})
                    continue
                if is_constant(x) or is_constant(y):
                    rows.append({**base, "n": n, **nan, "flag": FLAG_CONSTANT})
                    continue
                # an unchanged model's fit comes from the last build's cache (fit_cache)
                rows.append({**base, "n": n, **memo("bpw_ols", _ols_fit, x, y), "flag": FLAG_OK})
    out = pd.DataFrame(rows, columns=BPW_COLUMNS)
    return sort_rows(out, ["scope", "base_model", "metric"])
