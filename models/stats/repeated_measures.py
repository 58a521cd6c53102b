"""Repeated-measures correlations, pingouin rm_corr (SS18, Table 18).

Thin wrapper: reads the cell matrix (one row per cell, a few hundred rows at
most), calls quant_safety.stats.repeated_measures (in the build's statistics server when there is one:
quant_safety/stats_server.py) and returns its tidy long table.
"""
from quant_safety.stats_server import compute


def model(dbt, session):
    dbt.config(materialized="table")
    return compute("repeated_measures", matrix=dbt.ref("matrix").df())
