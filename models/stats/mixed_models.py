"""Random-intercept mixed models, statsmodels MixedLM (SS19, Table 19).

Thin wrapper: reads the cell matrix (one row per cell, a few hundred rows at
most), calls quant_safety.stats.mixed_models and returns its tidy long table.
"""
from quant_safety.stats import mixed_models


def model(dbt, session):
    dbt.config(materialized="table")
    matrix = dbt.ref("matrix").df()
    return mixed_models(matrix)
