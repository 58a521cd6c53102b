"""The analysis bundle of a built warehouse: the exported tables (export.py,
its table list in tables.py), the run manifest (run_manifest.py) and the
report (report.py). No dbt call here: the dbt docs site is the engine's
(quant_safety.engine.docs); the tables are read from a DuckDB connection that
the engine opens (quant_safety.engine)."""
