"""Shared helpers of the statistics package: scopes, metric lists, NaN-safe tests.

Nothing here knows a model or quant name; everything is derived from the
``matrix`` DataFrame (contract: docs/interfaces.md, section "Cell matrix").
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator

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


def float_values(df: pd.DataFrame, col: str) -> np.ndarray:
    """``df[col]`` as a float64 array (what ``np.asarray(df[col], dtype=float)`` gives)."""
    return np.asarray(df[col], dtype=float)


def group_positions(values: pd.Series) -> dict:
    """Row positions (ascending) of each non-missing value of ``values``.

    ``positions[v]`` selects the same rows as ``values == v``, in O(n) for all
    values together instead of one scan of the column per value.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    codes = np.asarray(codes)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1), side="left")
    return {uniques[i]: order[bounds[i]:bounds[i + 1]] for i in range(len(uniques))}


class PairedColumns:
    """:func:`paired` for many row subsets of one frame, as float arrays.

    ``get(x, y, positions)`` equals ``paired(df.iloc[positions], x, y)[[x, y]]``
    as two arrays.  float64 columns are read once per frame; a column of any
    other dtype is converted per subset exactly as :func:`paired` does.
    """

    def __init__(self, df: pd.DataFrame):
        self.df = df
        self._float: dict[str, np.ndarray | None] = {}

    def _column(self, col: str) -> np.ndarray | None:
        if col not in self._float:
            s = self.df[col]
            self._float[col] = s.to_numpy() if s.dtype == np.float64 else None
        return self._float[col]

    def get(self, x: str, y: str, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xa, ya = self._column(x), self._column(y)
        if xa is None or ya is None or x == y:
            data = paired(self.df.iloc[positions], x, y)
            return data[x].to_numpy(), data[y].to_numpy()
        xv, yv = xa[positions], ya[positions]
        ok = np.isfinite(xv) & np.isfinite(yv)
        return xv[ok], yv[ok]


def is_constant(v: np.ndarray) -> bool:
    return len(v) == 0 or bool(np.nanmax(v) == np.nanmin(v))


# -- Pearson / Spearman without the per-call overhead of scipy.stats ---------------
#
# scipy.stats.pearsonr / spearmanr spend ~1-3 ms per call in argument handling
# (array-API dispatch, broadcasting, warnings) around a few microseconds of
# arithmetic; the statistics tables make thousands of calls.  _pearsonr_1d and
# _spearmanr_1d repeat scipy's arithmetic for the one case used here (1-D
# float64, finite, n >= 3, neither input constant) with the same numpy / scipy
# .special calls in the same order, so r, rho and both p-values are bitwise the
# numbers scipy returns.  That is checked once per process on probe data
# (_fast_correlation_ok); if a scipy or numpy version computes anything
# differently, correlate() falls back to calling scipy.stats itself.


def _pearsonr_1d(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """scipy.stats.pearsonr(x, y) (two-sided) for 1-D float64, n >= 3, non-constant."""
    from scipy import special

    n = np.asarray(x.shape[-1], dtype=x.dtype)
    xmean = np.mean(x, axis=-1, keepdims=True)
    ymean = np.mean(y, axis=-1, keepdims=True)
    xm = x - xmean
    ym = y - ymean
    xmax = np.max(np.abs(xm), axis=-1, keepdims=True)
    ymax = np.max(np.abs(ym), axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        normxm = xmax * np.linalg.norm(xm / xmax, ord=2, axis=-1, keepdims=True)
        normym = ymax * np.linalg.norm(ym / ymax, ord=2, axis=-1, keepdims=True)
        r = np.vecdot(xm / normxm, ym / normym, axis=-1)
    # xp.clip(r, -1., 1.) of scipy's array-API layer
    out = np.empty(r.shape, dtype=r.dtype)
    out[()] = r
    if out < -1.0:
        out[()] = -1.0
    if out > 1.0:
        out[()] = 1.0
    r = out
    ab = np.asarray(n / 2 - 1, dtype=x.dtype)
    p = 2 * special.betaincc(ab, ab, (np.abs(r) - -1) / 2)
    return float(r[()]), float(p[()])


def _rank_average(v: np.ndarray) -> np.ndarray:
    """scipy.stats.rankdata(v) ('average' ties) of a 1-D array without NaN."""
    n = v.shape[0]
    j = np.argsort(v, kind="stable")
    ordinal = np.arange(1, n + 1, dtype=np.float64)
    s = v[j]
    first = np.concatenate([np.ones(1, dtype=bool), s[:-1] != s[1:]])
    idx = np.arange(n)[first]
    counts = np.diff(idx, append=np.asarray([n], dtype=idx.dtype))
    ranks = np.repeat(ordinal[first] + (np.asarray(counts, dtype=np.float64) - 1) / 2, counts)
    out = np.empty(n, dtype=np.float64)
    out[j] = ranks
    return out


def _spearmanr_1d(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """scipy.stats.spearmanr(x, y) (two-sided) for 1-D float64, n >= 3, non-constant."""
    from scipy import special

    n = x.shape[0]
    # the (n, 2) ranked array of scipy (np.apply_along_axis output: Fortran order)
    buf = np.empty((2, n), dtype=np.float64)
    buf[0] = _rank_average(x)
    buf[1] = _rank_average(y)
    rs = np.corrcoef(buf.T, rowvar=0)
    dof = n - 2
    with np.errstate(divide="ignore"):
        t = rs * np.sqrt((dof / ((rs + 1.0) * (1.0 - rs))).clip(0))
    prob = 2 * special.stdtr(dof, -np.abs(t))
    return float(rs[1, 0]), float(prob[1, 0])


def _scipy_correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pr = stats.pearsonr(x, y)
        sr = stats.spearmanr(x, y)
    return float(pr.statistic), float(pr.pvalue), float(sr.statistic), float(sr.pvalue)


def _fast_correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r, pr = _pearsonr_1d(x, y)
        rho, ps = _spearmanr_1d(x, y)
    return r, pr, rho, ps


def _probe_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """Inputs on which the fast path must reproduce scipy bit for bit: sizes
    3..451, ties (2-dp deltas, integers), perfect and exactly inverse correlation."""
    rng = np.random.default_rng(20240142)
    pairs = []
    for n in (3, 4, 7, 12, 45, 451):
        x = rng.normal(0.0, 5.0, n)
        y = 0.4 * x + rng.normal(0.0, 3.0, n)
        pairs.append((x, y))
        pairs.append((np.round(x, 2), np.round(-y, 2)))
        pairs.append((np.round(x), np.round(y)))
        pairs.append((x, 2.0 * x + 1.0))
        pairs.append((x, -x))
    pairs.append((np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0])))
    pairs.append((np.array([0.0, 0.0, 1.0, 1.0]), np.array([1.0, 0.0, 1.0, 0.0])))
    pairs.append((np.array([1e-9, 2e-9, 4e-9, 3e-9]), np.array([5e8, 1e9, 2e9, 1.5e9])))
    return pairs


_FAST_OK: bool | None = None


def _fast_correlation_ok() -> bool:
    """True if the fast path equals scipy.stats bitwise on the probe inputs (once per process)."""
    global _FAST_OK
    if _FAST_OK is None:
        ok = True
        try:
            for x, y in _probe_pairs():
                a = np.array(_fast_correlations(x, y))
                b = np.array(_scipy_correlations(x, y))
                same = (a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))
                if not same.all():
                    ok = False
                    break
        except Exception:  # noqa: BLE001 - any incompatibility means: use scipy
            ok = False
        _FAST_OK = ok
    return _FAST_OK


def correlate(x, y) -> dict:
    """Pearson and Spearman on finite pairs: r, p, rho, p, n, flag.

    n < 3 or a constant input gives NaN statistics and a flag instead of a
    scipy warning / degenerate p = 1.  The numbers are scipy.stats.pearsonr /
    spearmanr's (see _pearsonr_1d).
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
    compute = _fast_correlations if _fast_correlation_ok() else _scipy_correlations
    r, pr, rho, ps = compute(x, y)
    out["pearson_r"] = r
    out["pearson_p"] = pr
    out["spearman_rho"] = rho
    out["spearman_p"] = ps
    if not np.isfinite(out["spearman_rho"]):
        out["flag"] = FLAG_CONSTANT  # e.g. constant ranks
    return out


def sign_of(v: float) -> int:
    if v is None or not np.isfinite(v) or v == 0:
        return 0
    return 1 if v > 0 else -1


def has_columns(df: pd.DataFrame, *cols: str) -> bool:
    return all(c in df.columns for c in cols)


# ---------------------------------------------------------------------------
# independent fits in worker processes
# ---------------------------------------------------------------------------

# Below this many data rows over all fits, starting workers costs more than it saves.
# Measured (mixed models, one BLAS thread): a fit takes ~0.03 s + ~0.0004 s per row
# (statsmodels loops over the groups, and the groups grow with the rows), a worker
# ~1.5 s to import the stack plus the pickling, so two workers pay off from ~3.5 s of
# serial fitting, ~9000 rows: from about x20 of the demo (x10: ~2900 rows, 1.6 s in one
# process against 2.5 s with two workers; x100: ~29000 rows).
PARALLEL_MIN_ROWS = 10000


def stats_workers() -> int:
    """Worker processes for independent fits: QSAFETY_STATS_WORKERS, default the
    cores this process may use; 1 = everything in this process."""
    import os

    env = os.environ.get("QSAFETY_STATS_WORKERS", "").strip()
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def map_fits(fn, tasks: list, size: int, weight=None) -> list:
    """``[fn(t) for t in tasks]``, in worker processes when there is enough work.

    Each fit is a pure function of its task, so the results are the same as in
    one process (same code and data, one BLAS thread: the build sets it in the
    environment the workers inherit; tests compare the two bit for bit). Worth it
    for slow, Python-bound fits (statsmodels' per-group loops): they leave the
    GIL the other statistics models share inside dbt's process and use every core.
    ``size`` (data rows over all tasks) below QSAFETY_STATS_PARALLEL_MIN_ROWS
    (default 10000) keeps the fits here: a worker needs ~1.5 s to import the stack.
    ``weight(task)`` estimates a task's cost for splitting the tasks (default 1).
    """
    import os

    from ..workers import run_in_workers

    min_rows = int(os.environ.get("QSAFETY_STATS_PARALLEL_MIN_ROWS", PARALLEL_MIN_ROWS))
    workers = min(stats_workers(), len(tasks))
    if workers < 2 or size < min_rows:
        return [fn(t) for t in tasks]
    return run_in_workers(fn, tasks, workers, weight=weight)
