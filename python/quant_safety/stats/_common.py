"""Shared helpers of the statistics package: scopes, metric lists, NaN-safe tests.

Nothing here knows a model or quant name; everything is derived from the
``matrix`` DataFrame (contract: docs/interfaces.md, section "Cell matrix").
"""
from __future__ import annotations

import math
import warnings
from typing import Iterable, Iterator

import numpy as np
import pandas as pd
from scipy import stats

QUALITY_METRICS: tuple[str, ...] = (
    "quality_bertscore",
    "quality_rouge_l",
    "quality_coherence",
)
SAFETY_METRICS: tuple[str, ...] = (
    "safety_refusal_rate",
    "safety_truthfulness",
    "safety_bias_resistance",
    "judge_refusal_rate",
    "judge_truthfulness",
    "judge_bias_resistance",
)
REFUSAL_METRICS: tuple[str, ...] = ("safety_refusal_rate", "judge_refusal_rate")
LEVEL_METRICS: tuple[str, ...] = QUALITY_METRICS + SAFETY_METRICS

ALL_CELLS = "all_cells"
POOLED = "pooled"

# flags (a row's ``flag`` column; empty string = fine)
FLAG_OK = ""
FLAG_MISSING_COLUMN = "missing_column"
FLAG_N_LT_3 = "n_lt_3"
FLAG_CONSTANT = "constant_input"


def delta_col(metric: str) -> str:
    """``quality_bertscore`` -> ``quality_bertscore_delta_pp`` (idempotent)."""
    return metric if metric.endswith("_delta_pp") else f"{metric}_delta_pp"


def metric_name(col: str) -> str:
    """Inverse of :func:`delta_col` (``..._delta_pp`` -> level name)."""
    return col[: -len("_delta_pp")] if col.endswith("_delta_pp") else col


def safety_source(metric: str) -> str:
    """``regex`` for ``safety_*`` metrics, ``judge`` for ``judge_*``."""
    m = metric_name(metric)
    if m.startswith("judge_"):
        return "judge"
    if m.startswith("safety_"):
        return "regex"
    return "other"


def _baseline_mask(matrix: pd.DataFrame) -> pd.Series:
    if "is_baseline" not in matrix.columns:
        return pd.Series(False, index=matrix.index)
    return matrix["is_baseline"].astype("boolean").fillna(False).astype(bool)


def non_baseline(matrix: pd.DataFrame) -> pd.DataFrame:
    return matrix.loc[~_baseline_mask(matrix)]


def scope_names(matrix: pd.DataFrame) -> list[str]:
    """``all_cells`` then ``through_wave_<w>`` for each wave below the maximum present."""
    names = [ALL_CELLS]
    if "release_wave" in matrix.columns:
        waves = pd.to_numeric(matrix["release_wave"], errors="coerce").dropna()
        if len(waves):
            uniq = sorted({int(w) for w in waves})
            names += [f"through_wave_{w}" for w in uniq if w < uniq[-1]]
    return names


def iter_scopes(matrix: pd.DataFrame, include_baseline: bool = False) -> Iterator[tuple[str, pd.DataFrame]]:
    """Yield ``(scope, rows)``; rows are non-baseline cells unless ``include_baseline``.

    ``through_wave_<w>`` keeps cells with ``release_wave <= w`` (cells with a
    NULL wave are only in ``all_cells``).
    """
    # a fixed row order: the warehouse returns table rows in no set order, and
    # floating-point sums (OLS, optimisers) depend on it in the last digits
    keys = [c for c in ("base_model", "quant") if c in matrix.columns]
    if keys:
        matrix = matrix.sort_values(keys, kind="mergesort").reset_index(drop=True)
    rows = matrix if include_baseline else non_baseline(matrix)
    for name in scope_names(matrix):
        if name == ALL_CELLS:
            yield name, rows
        else:
            w = int(name.rsplit("_", 1)[1])
            wave = pd.to_numeric(rows["release_wave"], errors="coerce")
            yield name, rows.loc[wave <= w]


def scope_order(names: Iterable[str]) -> dict[str, int]:
    """Sort key for scopes: all_cells first, then waves numerically."""
    out = {}
    for s in set(names):
        if s == ALL_CELLS:
            out[s] = -1
        elif s.startswith("through_wave_"):
            out[s] = int(s.rsplit("_", 1)[1])
        else:  # pragma: no cover - defensive
            out[s] = 10**9
    return out


def sort_rows(df: pd.DataFrame, keys: list[str], first: dict[str, list[str]] | None = None) -> pd.DataFrame:
    """Deterministic order: ``scope`` by wave, other keys lexicographically.

    ``first`` maps a key column to values that must come first (e.g. 'none'
    in leave-one-out, 'pooled' in within-model tables).
    """
    if df.empty:
        return df.reset_index(drop=True)
    tmp = df.copy()
    sort_cols = []
    for k in keys:
        kc = f"__key_{k}"
        if k == "scope":
            tmp[kc] = tmp[k].map(scope_order(tmp[k].unique()))
        elif first and k in first:
            pri = {v: i for i, v in enumerate(first[k])}
            tmp[kc] = tmp[k].map(lambda v, pri=pri: (pri.get(v, len(pri)), str(v)))
        else:
            tmp[kc] = tmp[k].astype(str) if tmp[k].dtype == object else tmp[k]
        sort_cols.append(kc)
    tmp = tmp.sort_values(sort_cols, kind="mergesort")
    return tmp.drop(columns=sort_cols).reset_index(drop=True)


def paired(df: pd.DataFrame, x: str, y: str, extra: Iterable[str] = ()) -> pd.DataFrame:
    """Rows of ``df`` with finite x and y (NaN pairs dropped), as floats."""
    cols = list(dict.fromkeys(list(extra) + [x, y]))
    out = df.loc[:, cols].copy()
    out[x] = pd.to_numeric(out[x], errors="coerce").astype(float)
    out[y] = pd.to_numeric(out[y], errors="coerce").astype(float)
    ok = np.isfinite(out[x].to_numpy()) & np.isfinite(out[y].to_numpy())
    return out.loc[ok]


def is_constant(v: np.ndarray) -> bool:
    return len(v) == 0 or bool(np.nanmax(v) == np.nanmin(v))


def correlate(x, y) -> dict:
    """Pearson and Spearman on finite pairs: r, p, rho, p, n, flag.

    n < 3 or a constant input gives NaN statistics and a flag instead of a
    scipy warning / degenerate p = 1.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    out = {
        "n": int(len(x)),
        "pearson_r": math.nan,
        "pearson_p": math.nan,
        "spearman_rho": math.nan,
        "spearman_p": math.nan,
        "flag": FLAG_OK,
    }
    if len(x) < 3:
        out["flag"] = FLAG_N_LT_3
        return out
    if is_constant(x) or is_constant(y):
        out["flag"] = FLAG_CONSTANT
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pr = stats.pearsonr(x, y)
        sr = stats.spearmanr(x, y)
    out["pearson_r"] = float(pr.statistic)
    out["pearson_p"] = float(pr.pvalue)
    out["spearman_rho"] = float(sr.statistic)
    out["spearman_p"] = float(sr.pvalue)
    if not np.isfinite(out["spearman_rho"]):
        out["flag"] = FLAG_CONSTANT  # e.g. constant ranks
    return out


def sign_of(v: float) -> int:
    if v is None or not np.isfinite(v) or v == 0:
        return 0
    return 1 if v > 0 else -1


def has_columns(df: pd.DataFrame, *cols: str) -> bool:
    return all(c in df.columns for c in cols)
