"""Per-model OLS of each metric on bits per weight (SS13, Table 13).

Thin wrapper: reads the cell matrix (one row per cell, a few hundred rows at
most), calls quant_safety.stats.bpw_regressions (in the build's statistics server when there is one:
quant_safety/stats_server.py) and returns its tidy long table.
"""
from quant_safety.stats_server import compute


def model(dbt, session):
    dbt.config(materialized="table")
    return compute("bpw_regressions", matrix=dbt.ref("matrix").df())
