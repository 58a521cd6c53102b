"""Pooled correlations with each model dropped (SS17, Table 17).

Thin wrapper: reads the cell matrix (one row per cell, a few hundred rows at
most), calls quant_safety.stats.leave_one_out (in the build's statistics server when there is one:
quant_safety/stats_server.py) and returns its tidy long table.
"""
from quant_safety.stats_server import compute


def model(dbt, session):
    dbt.config(materialized="table")
    return compute("leave_one_model_out", matrix=dbt.ref("matrix").df())
