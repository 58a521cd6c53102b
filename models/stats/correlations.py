"""Within-model and pooled Pearson/Spearman correlations (TR142 v3 SS6, Tables 4/5/5b).

Thin wrapper: reads the cell matrix (one row per cell, a few hundred rows at
most), calls quant_safety.stats.within_model_correlations (in the build's statistics server when there is one:
quant_safety/stats_server.py) and returns its tidy long table.
"""
from quant_safety.stats_server import compute


def model(dbt, session):
    dbt.config(materialized="table")
    return compute("correlations", matrix=dbt.ref("matrix").df())
