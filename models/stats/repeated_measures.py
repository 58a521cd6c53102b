"""Repeated-measures correlations, pingouin rm_corr (SS18, Table 18).

Thin wrapper: reads the cell matrix (one row per cell, a few hundred rows at
most), calls quant_safety.stats.repeated_measures and returns its tidy long table.
"""
from quant_safety.stats import repeated_measures


def model(dbt, session):
    dbt.config(materialized="table")
    matrix = dbt.ref("matrix").df()
    return repeated_measures(matrix)
