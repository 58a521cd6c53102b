"""Within-model quality-vs-safety correlations and the sign-reversal summary (TR142 SS6).

Reading of the report's "36 pairings" (Exec #2, SS6.1, TAX_001)
----------------------------------------------------------------
3 quality metrics (BERTScore, ROUGE-L, coherence) x 6 safety metrics (regex
refusal / truthfulness / bias resistance and judge refusal / truthfulness /
bias resistance) = 18 metric pairs, each tested with 2 methods (Pearson and
Spearman) = 36 pairings.  A pairing "reverses" when at least one model has a
positive and at least one a negative within-model coefficient.  Table 4 lists
10 of the 18 pairs (the 9 regex pairs + coherence x judge refusal) with the
*pooled Pearson* r; those pooled values and the Pearson positive/negative model
sets reproduce on the 41-cell scope (``through_wave_1`` of the reference data),
which confirms that Table 4 is the Pearson half and that the statistics are on
non-baseline DELTAS (``<metric>_delta_pp``).  Judge truthfulness and bias are
unpublished for most cells, so the 24/36 regex pairings are the only ones
checkable on the reference data (inconsistencies.md item 3): "34/36" is the
stale 47-cell figure, "36/36" the unverifiable 51-cell claim.

Reference-data check (tests/stats/test_stats_reference.py): Table 5
(BERTScore x regex refusal) reproduces within 0.002 for all 6 models on the
41-cell scope (Table 5's n = 5 for mistral-7b / qwen2.5-7b is the 47-cell
bundle).  On ``all_cells`` (n = 7) qwen2.5-7b turns POSITIVE (r = +0.567, was
-0.612) and mistral-7b goes to +0.625, so on 51 cells the 4:2 split of
Table 5 becomes 3:3.  Table 5b (coherence x regex refusal) reproduces within
0.015 only: phi-2 +0.736 (published +0.730), qwen2.5-7b -0.568 (-0.580),
llama3.2-1b rho -0.323 (-0.333).  Coherence levels are published at 3 dp and
the coherence deltas of these models are only a few tenths of a pp; jittering
every level within its +-0.0005 rounding interval moves r over [+0.727,
+0.746] (phi-2), [-0.592, -0.543] (qwen2.5-7b) and [-0.578, -0.572]
(llama3.2-1b), which contain the published values.

Exact p-values (``pearson_p_exact``, ``spearman_p_exact``): the permutation
test over all n! pairings (quant_safety.stats.exact) for n <= 10 points, NaN
above (the pooled rows). ``pearson_p`` / ``spearman_p`` stay scipy's t
approximation, which is what the report prints (Tables 5 / 5b reproduce with
it); at 5-8 points the exact test differs from it, and the claim ledger counts
the within-model results whose side of p = 0.05 changes.

Only the non-baseline cells enter (their deltas are 0 by construction on the
baseline).  NaN pairs are dropped per test and ``n`` is reported; n < 3 or a
constant input gives NaN statistics and a ``flag`` (``n_lt_3`` /
``constant_input``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import (
    POOLED,
    QUALITY_METRICS,
    SAFETY_METRICS,
    correlate,
    delta_col,
    float_values,
    group_positions,
    iter_scopes,
    safety_source,
    sign_of,
    sort_rows,
)
from .exact import exact_pvalues
from .fit_cache import memo

METHODS = ("pearson", "spearman")

WITHIN_COLUMNS = [
    "scope",
    "quality_metric",
    "safety_metric",
    "safety_source",
    "model",
    "is_pooled",
    "n",
    "pearson_r",
    "pearson_p",
    "spearman_rho",
    "spearman_p",
    "pearson_p_exact",
    "spearman_p_exact",
    "flag",
]


def within_model_correlations(
    matrix: pd.DataFrame,
    quality_metrics=QUALITY_METRICS,
    safety_metrics=SAFETY_METRICS,
) -> pd.DataFrame:
    """Pearson + Spearman of quality delta vs safety delta per scope, pair, model and pooled.

    One row per (scope, quality_metric, safety_metric, model); ``model`` is a
    base_model or ``'pooled'`` (all models of the scope together,
    ``is_pooled`` True).  Metric names are the level names (the test uses their
    ``_delta_pp`` columns).  A missing delta column yields rows with n = 0 and
    flag ``n_lt_3``.
    """
    rows = []
    for scope, df in iter_scopes(matrix):
        if "base_model" in df:
            models = sorted(df["base_model"].dropna().unique())
            positions = group_positions(df["base_model"])
        else:
            models = []
        # row positions of each model (None = all rows, the pooled group);
        # the same rows as df.loc[df["base_model"] == m], selected once
        groups = [(POOLED, None)] + [(m, positions[m]) for m in models]
        values: dict[str, np.ndarray] = {}
        for q in quality_metrics:
            for s in safety_metrics:
                qc, sc = delta_col(q), delta_col(s)
                present = qc in df.columns and sc in df.columns
                if present:
                    for c in (qc, sc):
                        if c not in values:
                            values[c] = float_values(df, c)
                    xv, yv = values[qc], values[sc]
                for model, idx in groups:
                    if not present:
                        res = correlate([], [])
                        exact = (float("nan"), float("nan"))
                    else:
                        # the model's rows (all rows for the pooled group): an unchanged
                        # model's fits come from the last build's cache (fit_cache)
                        x, y = (xv, yv) if idx is None else (xv[idx], yv[idx])
                        res = memo("correlate", correlate, x, y)
                        exact = memo("exact_pvalues", exact_pvalues, x, y)
                    rows.append(
                        {
                            "scope": scope,
                            "quality_metric": q,
                            "safety_metric": s,
                            "safety_source": safety_source(s),
                            "model": model,
                            "is_pooled": model == POOLED,
                            **res,
                            "pearson_p_exact": exact[0],
                            "spearman_p_exact": exact[1],
                        }
                    )
    out = pd.DataFrame(rows, columns=WITHIN_COLUMNS)
    return sort_rows(
        out,
        ["scope", "quality_metric", "safety_metric", "model"],
        first={"model": [POOLED]},
    )


SUMMARY_COLUMNS = [
    "scope",
    "quality_metric",
    "safety_metric",
    "safety_source",
    "method",
    "pooled_r",
    "pooled_p",
    "pooled_n",
    "models_positive",
    "models_negative",
    "n_models_positive",
    "n_models_negative",
    "n_models",
    "reversal",
    "n_pairings",
    "n_pairings_reversing",
]


def sign_reversal_summary(corr: pd.DataFrame) -> pd.DataFrame:
    """Sign-reversal table from :func:`within_model_correlations` output.

    Per scope x pair x method: models with a positive / negative within-model
    coefficient (comma-joined, sorted; zero or NaN coefficients are in
    neither), ``n_models`` (models with a finite coefficient), the pooled
    coefficient of the same method, ``reversal`` (>= 1 positive and >= 1
    negative model) and, repeated on each row of the scope, ``n_pairings``
    (pairings with >= 1 finite within-model coefficient) and
    ``n_pairings_reversing``.
    """
    rows = []
    if corr.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    for (scope, q, s), g in corr.groupby(["scope", "quality_metric", "safety_metric"], sort=False):
        pooled = g.loc[g["is_pooled"]]
        within = g.loc[~g["is_pooled"]]
        for method in METHODS:
            stat = "pearson_r" if method == "pearson" else "spearman_rho"
            pcol = "pearson_p" if method == "pearson" else "spearman_p"
            signs = {m: sign_of(v) for m, v in zip(within["model"], within[stat])}
            pos = sorted(m for m, v in signs.items() if v > 0)
            neg = sorted(m for m, v in signs.items() if v < 0)
            finite = int(within[stat].notna().sum())
            rows.append(
                {
                    "scope": scope,
                    "quality_metric": q,
                    "safety_metric": s,
                    "safety_source": safety_source(s),
                    "method": method,
                    "pooled_r": float(pooled[stat].iloc[0]) if len(pooled) else float("nan"),
                    "pooled_p": float(pooled[pcol].iloc[0]) if len(pooled) else float("nan"),
                    "pooled_n": int(pooled["n"].iloc[0]) if len(pooled) else 0,
                    "models_positive": ",".join(pos),
                    "models_negative": ",".join(neg),
                    "n_models_positive": len(pos),
                    "n_models_negative": len(neg),
                    "n_models": finite,
                    "reversal": bool(pos and neg),
                }
            )
    out = pd.DataFrame(rows)
    computable = out["n_models"] > 0
    out["n_pairings"] = computable.groupby(out["scope"]).transform("sum").astype(int)
    out["n_pairings_reversing"] = out["reversal"].groupby(out["scope"]).transform("sum").astype(int)
    out = out[SUMMARY_COLUMNS]
    return sort_rows(out, ["scope", "quality_metric", "safety_metric", "method"])
