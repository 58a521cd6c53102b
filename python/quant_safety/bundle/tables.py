"""The bundle's table list: seeds/reference/bundle_tables.csv, one row per
bundle file (bundle_name -> <bundle_name>.csv / .parquet) with the relation it
is read from, the key columns it is sorted by (space-separated, in order; the
other columns follow, so the order is total) and a description.

A seed rather than YAML `meta:`: the list is one vocabulary of its own (not a
property of one model: a bundle name may differ from its relation, the
quarantine is `audit_quarantine`), it is read here at export time without
dbt or a warehouse connection (the bundle stage needs it to know which files
it owns, the Spark engine to know which tables to copy), and as a seed it is
also a table of the warehouse (`bundle_tables`) that analysts can query.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..config import PROJECT_DIR
from ..errors import QSafetyError

SEED = PROJECT_DIR / "seeds" / "reference" / "bundle_tables.csv"
COLUMNS = ["bundle_name", "relation", "sort_keys", "description"]
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")

# read by the report (the quant levels in effect and their order, the regime rule in force), not exported
REPORT_ONLY_RELATIONS = ("stg_registry__quant_levels", "regime_rule")


@dataclass(frozen=True)
class BundleTable:
    bundle_name: str
    relation: str
    sort_keys: tuple[str, ...]
    description: str


def read_bundle_tables(path: Path = SEED) -> list[BundleTable]:
    """The rows of the seed, checked: names are lower-case identifiers (a
    bundle name is a file name, a relation and a key a SQL identifier), bundle
    names are unique."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != COLUMNS:
            raise QSafetyError(f"{path}: columns {reader.fieldnames}, expected {COLUMNS}")
        tables: list[BundleTable] = []
        for line, row in enumerate(reader, start=2):
            keys = tuple(row["sort_keys"].split())
            for value in (row["bundle_name"], row["relation"], *keys):
                if not _NAME.fullmatch(value or ""):
                    raise QSafetyError(f"{path}: line {line}: {value!r} is not a lower-case name")
            tables.append(BundleTable(row["bundle_name"], row["relation"], keys, row["description"].strip()))
    names = [t.bundle_name for t in tables]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise QSafetyError(f"{path}: bundle names listed twice: {', '.join(duplicated)}")
    return tables


@lru_cache(maxsize=1)
def _tables() -> dict[str, tuple[str, list[str]]]:
    return {t.bundle_name: (t.relation, list(t.sort_keys)) for t in read_bundle_tables()}


def bundle_tables() -> dict[str, tuple[str, list[str]]]:
    """{bundle name: (relation, key columns in sort order)}, in the seed's order."""
    return dict(_tables())


# bundle name -> (relation, key columns in sort order), read once from the seed
TABLES: dict[str, tuple[str, list[str]]] = bundle_tables()
