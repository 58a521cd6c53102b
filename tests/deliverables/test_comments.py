"""Descriptions reach the warehouse as DuckDB comments (macros/engine/docs.sql): every
model's and seed's description, and every documented column that exists, as the YAML
files say, whitespace runs as one space. The expected text is read from the YAML files
here, not from dbt's manifest."""
from __future__ import annotations

from pathlib import Path

import duckdb
import yaml

from quant_safety.config import PROJECT_DIR


def _documented() -> tuple[dict, dict]:
    """({relation: description}, {(relation, column): description}) from models/ and
    seeds/reference/ YAML files."""
    relations, columns = {}, {}
    for path in sorted([*Path(PROJECT_DIR, "models").rglob("*.yml"), *Path(PROJECT_DIR, "seeds").rglob("*.yml")]):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for entry in (doc.get("models") or []) + (doc.get("seeds") or []):
            name = entry["name"]
            if entry.get("description"):
                relations[name] = " ".join(str(entry["description"]).split())
            for column in entry.get("columns") or []:
                if column.get("description"):
                    columns[(name, column["name"].lower())] = " ".join(str(column["description"]).split())
    return relations, columns


def test_descriptions_are_warehouse_comments(warehouse):
    relations, columns = _documented()
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        tables = dict(con.execute(
            "select table_name, comment from duckdb_tables() where schema_name = 'main' "
            "union all select view_name, comment from duckdb_views() where schema_name = 'main' and not internal"
        ).fetchall())
        present = {(t, c.lower()): comment for t, c, comment in con.execute(
            "select table_name, column_name, comment from duckdb_columns() where schema_name = 'main'").fetchall()}
    built = {name: text for name, text in relations.items() if name in tables}
    # the matrix, a staging view, an incremental base model and a seed are among them
    assert {"matrix", "stg_quality__samples", "base_quality__lines", "quant_levels"} <= set(built)
    assert {name: tables[name] for name in built} == built
    expected = {key: text for key, text in columns.items() if key in present}
    assert len(expected) > 1000
    assert {key: present[key] for key in expected} == expected
