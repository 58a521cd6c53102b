"""Sign reversal per metric pairing (SS6.1, Table 4; TAX_001): models with a
positive and a negative within-model correlation, pooled r, reversal flag and
the count of pairings that split sign. Reads the correlations model.
"""
from quant_safety.stats_server import compute


def model(dbt, session):
    dbt.config(materialized="table")
    return compute("sign_reversal_summary", correlations=dbt.ref("correlations").df())
