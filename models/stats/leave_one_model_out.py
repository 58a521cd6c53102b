"""Pooled correlations with each model dropped (SS17, Table 17).

Thin wrapper: reads the cell matrix (one row per cell, a few hundred rows at
most), calls quant_safety.stats.leave_one_out and returns its tidy long table.
"""
from quant_safety.stats import leave_one_out


def model(dbt, session):
    dbt.config(materialized="table")
    matrix = dbt.ref("matrix").df()
    return leave_one_out(matrix, by="base_model")
