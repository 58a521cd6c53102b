"""Refusal-style deltas vs refusal-rate deltas (SS10, Table 9, Exec #6).

Thin wrapper: reads the cell matrix (one row per cell, a few hundred rows at
most), calls quant_safety.stats.refusal_style_correlations (in the build's statistics server when there is one:
quant_safety/stats_server.py) and returns its tidy long table.
"""
from quant_safety.stats_server import compute


def model(dbt, session):
    dbt.config(materialized="table")
    return compute("phase6_style_correlations", matrix=dbt.ref("matrix").df())
