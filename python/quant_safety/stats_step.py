"""The statistics step of a build on a target whose dbt adapter does not run
the dbt Python models of models/stats (plain Spark: dbt-spark runs Python
models only on Databricks; dbt_project.yml disables them there).

It reads the inputs (the `matrix` mart) through the warehouse reader, computes
every statistics table with the same functions the dbt Python models call
(quant_safety.stats.models.STATS_MODELS) and writes the tables into the dbt
schema, where claim_ledger (stats_ref macro) reads them. Run it after dbt has
exited (the embedded Derby metastore admits one process at a time).
"""
from __future__ import annotations

from pathlib import Path

from .engine.readers import open_reader
from .stats.models import STATS_MODELS, compute_all


def run_stats_step(target: str, db_path: Path, spark_dir: Path | None) -> dict[str, int]:
    """Compute and write every statistics table; returns rows per table."""
    with open_reader(target, db_path, spark_dir) as reader:
        if not hasattr(reader, "write_table"):
            raise ValueError(f"target {target}: the statistics are dbt Python models there (no stats step)")
        tables = compute_all(lambda name: reader.df(f"select * from {name}"))
        for name in STATS_MODELS:
            reader.write_table(name, tables[name])
        return {name: len(frame) for name, frame in tables.items()}


def run_stats_step_subprocess(target: str, db_path: Path, spark_dir: Path | None) -> dict[str, int]:
    """The same in a child process: its Spark JVM (and the embedded Derby
    metastore it boots) ends with it, so that dbt can open the metastore next."""
    import json
    import subprocess
    import sys

    from .processes import child_command

    proc = subprocess.run(child_command([sys.executable, "-m", "quant_safety.stats_step", target, str(db_path),
                                         str(spark_dir or "")]), capture_output=True, text=True)
    if proc.returncode != 0:
        from .errors import BuildError
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise BuildError("statistics step failed: " + " | ".join(tail))
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    import json
    import sys

    _target, _db, _spark_dir = sys.argv[1:4]
    print(json.dumps(run_stats_step(_target, Path(_db), Path(_spark_dir) if _spark_dir else None)))
