"""Random-intercept mixed models, statsmodels MixedLM (SS19, Table 19).

Thin wrapper: reads the cell matrix (one row per cell, a few hundred rows at
most), calls quant_safety.stats.mixed_models (in the build's statistics server when there is one:
quant_safety/stats_server.py) and returns its tidy long table.
"""
from quant_safety.stats_server import compute


def model(dbt, session):
    dbt.config(materialized="table")
    return compute("mixed_models", matrix=dbt.ref("matrix").df())
