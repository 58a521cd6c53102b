"""The statistics tables, one entry per table: which warehouse tables it reads
and the quant_safety.stats function that computes it.

One code path, two callers: the dbt Python models of models/stats/ (DuckDB, and
any adapter that runs dbt Python models) call `compute(name, <inputs>)`, and on
a plain Spark target (dbt-spark runs Python models only on Databricks) the
build's statistics step (quant_safety.stats_step) reads the inputs from the
warehouse, calls the same `compute` and writes the tables back. The order of
STATS_MODELS is a dependency order (sign_reversal_summary reads correlations).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pandas as pd

from . import fit_cache
from .correlations import sign_reversal_summary, within_model_correlations
from .regressions import bpw_regressions
from .robustness import leave_one_out, mixed_models, repeated_measures
from .style import refusal_style_correlations


class StatsModel(NamedTuple):
    inputs: tuple[str, ...]                    # warehouse tables passed, in order
    function: Callable[..., pd.DataFrame]


STATS_MODELS: dict[str, StatsModel] = {
    "correlations": StatsModel(("matrix",), within_model_correlations),
    "sign_reversal_summary": StatsModel(("correlations",), sign_reversal_summary),
    "leave_one_quant_out": StatsModel(("matrix",), lambda matrix: leave_one_out(matrix, by="quant")),
    "leave_one_model_out": StatsModel(("matrix",), lambda matrix: leave_one_out(matrix, by="base_model")),
    "repeated_measures": StatsModel(("matrix",), repeated_measures),
    "mixed_models": StatsModel(("matrix",), mixed_models),
    "bpw_regressions": StatsModel(("matrix",), bpw_regressions),
    "phase6_style_correlations": StatsModel(("matrix",), refusal_style_correlations),
}


def compute(name: str, **inputs: pd.DataFrame) -> pd.DataFrame:
    """The statistics table `name` from its input tables (keyword = table name)."""
    spec = STATS_MODELS[name]
    missing = [t for t in spec.inputs if t not in inputs]
    if missing:
        raise ValueError(f"{name}: missing input table(s) {missing}")
    # within-model fits whose rows did not change since the last build are read back
    # (fit_cache; only where the build sets QSAFETY_STATS_CACHE_DIR)
    with fit_cache.session(name):
        return spec.function(*(inputs[t] for t in spec.inputs))


def compute_all(read: Callable[[str], pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every statistics table; `read(table)` gives a warehouse table that is not
    itself a statistics table (the matrix)."""
    out: dict[str, pd.DataFrame] = {}
    for name, spec in STATS_MODELS.items():
        frames = {t: out[t] if t in out else read(t) for t in spec.inputs}
        out[name] = compute(name, **frames)
    return out
