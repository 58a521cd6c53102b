"""Phase-6 refusal-style correlations (TR142 SS10 Table 9, Exec #6).

Each style delta (cell - baseline, NOT pp: ``dominant_prefix_share_delta``,
``unique_prefix_rate_delta``, ``prefix_entropy_norm_delta``,
``mean_tokens_refusal_delta``, ``mean_chars_refusal_delta``,
``hard_refusal_rate_delta``) is correlated (Pearson + Spearman) with a refusal
delta across the non-baseline cells of each scope.

Which refusal delta: the published values come from the published Phase-6 table's
``refusal_rate_delta``, i.e. the AdvBench-only refusal-rate delta (n = 100
prompts, a fraction) -- ``advbench_refusal_rate_delta`` in the matrix.  On the
reference data it reproduces Exec #6 on all 45 cells (+0.562 p 6.0e-5,
-0.780, -0.656 p 1.0e-6) and Table 9 on the 41-cell scope (+0.589, -0.813,
-0.698; inconsistencies.md item 6: Table 9 is the stale 47-cell value).  Both
Pearson and Spearman are invariant to the unit (fraction vs pp), so only the
choice of measure matters, not its scaling.  For comparison every style metric
is ALSO correlated with the regex refusal delta over AdvBench + jailbreak
(``safety_refusal_rate_delta_pp``, n = 220 prompts); column
``refusal_measure`` names which.  Style columns absent from the matrix give
rows with n = 0 and flag ``missing_column``.
"""
from __future__ import annotations

import pandas as pd

from ._common import FLAG_MISSING_COLUMN, correlate, has_columns, iter_scopes, sort_rows

STYLE_METRICS: tuple[str, ...] = (
    "dominant_prefix_share_delta",
    "unique_prefix_rate_delta",
    "prefix_entropy_norm_delta",
    "mean_tokens_refusal_delta",
    "mean_chars_refusal_delta",
    "hard_refusal_rate_delta",
)
REFUSAL_MEASURES: tuple[str, ...] = (
    "advbench_refusal_rate_delta",
    "safety_refusal_rate_delta_pp",
)

STYLE_COLUMNS = [
    "scope",
    "refusal_measure",
    "style_metric",
    "n",
    "pearson_r",
    "pearson_p",
    "spearman_rho",
    "spearman_p",
    "flag",
]


def refusal_style_correlations(
    matrix: pd.DataFrame,
    style_metrics=STYLE_METRICS,
    refusal_measures=REFUSAL_MEASURES,
) -> pd.DataFrame:
    """Pearson/Spearman of each style delta vs each refusal delta, per scope."""
    rows = []
    for scope, df in iter_scopes(matrix):
        for rm in refusal_measures:
            for sm in style_metrics:
                base = {"scope": scope, "refusal_measure": rm, "style_metric": sm}
                if not has_columns(df, rm, sm):
                    rows.append({**base, **correlate([], []), "flag": FLAG_MISSING_COLUMN})
                    continue
                rows.append({**base, **correlate(df[sm], df[rm])})
    out = pd.DataFrame(rows, columns=STYLE_COLUMNS)
    return sort_rows(out, ["scope", "refusal_measure", "style_metric"])
