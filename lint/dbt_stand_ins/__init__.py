"""Stand-ins for dbt's Jinja context, for sqlfluff's jinja templater (library_path in
.sqlfluff). Every public name here is a variable of the template context."""
from __future__ import annotations

import re as _re
from pathlib import Path as _Path

import yaml as _yaml
from jinja2 import pass_context as _pass_context
from sqlfluff.core.templaters.builtins.dbt import MacroReturn as _MacroReturn

_PROJECT = _Path(__file__).resolve().parents[2]
_VARS = (_yaml.safe_load((_PROJECT / "dbt_project.yml").read_text(encoding="utf-8")) or {}).get("vars") or {}


def _lookup(context, name: str):
    """A macro of the project (load_macros_from_path) by name, from the calling template,
    returning what its `{{ return(...) }}` gives (as dbt does: a macro of the same file is
    the bare Jinja macro there, whose return would otherwise end the caller)."""
    macro = context.get(name)
    if not callable(macro):
        return None

    def call(*args, **kwargs):
        try:
            return macro(*args, **kwargs)
        except _MacroReturn as returned:
            return returned.value

    return call


class _Relation:
    """What ref() / source() / this render to: a relation name."""

    def __init__(self, identifier: str, schema: str = "main"):
        self.identifier, self.schema, self.database, self.name = identifier, schema, "warehouse", identifier

    def __str__(self) -> str:
        return self.identifier

    def render(self) -> str:
        return self.identifier

    def incorporate(self, path=None, **_kwargs) -> _Relation:
        return _Relation((path or {}).get("identifier", self.identifier), self.schema)


def ref(*names, **_kwargs) -> _Relation:
    return _Relation(names[-1])


def source(source_name: str, table_name: str) -> _Relation:
    return _Relation(f"{source_name}__{table_name}")


this = _Relation("this_model")


def var(name: str, default=None):
    value = _VARS.get(name, default)
    if isinstance(value, str) and "{{" in value:   # raw_dir: "{{ env_var(...) }}"
        return "data/raw"
    return name if value is None else value


def config(*_args, **_kwargs) -> str:
    return ""


def is_incremental() -> bool:
    return False


def env_var(name: str, default: str = "") -> str:
    # a value for the variables a model cannot render without (the audit dir)
    return default or f"lint_{name.lower()}"


def log(*_args, **_kwargs) -> str:
    return ""


# Models render as at execution time, so that the SQL generated from seed rows (the metric
# catalog's columns, the taxonomy's flags, the claim computations) is linted too.
execute = True
_SEEDS_DB = None


class _Result:
    def __init__(self, rows: list, column_names: list):
        self.rows, self.column_names = rows, column_names

    def __iter__(self):
        return iter(self.rows)


def run_query(sql):
    """The query on an in-memory DuckDB holding the project's seeds (seeds/**/*.csv as
    tables named after their files); a query on anything else gives no rows."""
    global _SEEDS_DB
    import duckdb

    if _SEEDS_DB is None:
        _SEEDS_DB = duckdb.connect()
        for csv in sorted((_PROJECT / "seeds").rglob("*.csv")):
            _SEEDS_DB.read_csv(str(csv), header=True).create(csv.stem)
    try:
        cursor = _SEEDS_DB.execute(str(sql))
        return _Result(cursor.fetchall(), [d[0] for d in cursor.description])
    except duckdb.Error:
        return _Result([], [])


class _Target:
    type = name = "duckdb"
    schema = "main"
    database = "warehouse"
    threads = 1


target = _Target()


class _Exceptions:
    @staticmethod
    def raise_compiler_error(message: str):
        raise RuntimeError(message)

    @staticmethod
    def warn(_message: str) -> str:
        return ""


exceptions = _Exceptions()


class _Modules:
    re = _re


modules = _Modules()


class _Namespace:
    """`quant_safety.<macro>(...)`: the project's macro of that name."""

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        @_pass_context
        def call(context, *args, **kwargs):
            macro = _lookup(context, name)
            if macro is None:
                raise RuntimeError(f"macro {name} not found under macros/")
            return macro(*args, **kwargs)

        return call


quant_safety = _Namespace()


class _Adapter:
    @staticmethod
    def dispatch(name: str, macro_namespace: str | None = None):
        @_pass_context
        def call(context, *args, **kwargs):
            for candidate in (f"duckdb__{name}", f"default__{name}"):
                macro = _lookup(context, candidate)
                if macro is not None:
                    return macro(*args, **kwargs)
            cross_database = getattr(dbt, name, None)
            if cross_database is not None:
                return cross_database(*args, **kwargs)
            raise RuntimeError(f"no duckdb__{name} or default__{name} macro under macros/")

        return call

    @staticmethod
    def quote(identifier: str) -> str:
        return '"' + str(identifier).replace('"', '""') + '"'

    @staticmethod
    def get_columns_in_relation(_relation) -> list:
        return []

    @staticmethod
    def convert_type(_table, _index) -> str:
        return "varchar"

    @staticmethod
    def add_query(*_args, **_kwargs):
        return None


adapter = _Adapter()


class _Api:
    class Relation:
        @staticmethod
        def create(database=None, schema=None, identifier=None, **_kwargs) -> _Relation:
            return _Relation(identifier or "relation", schema or "main")


api = _Api()


class _Dbt:
    """dbt's cross-database macros as DuckDB renders them."""

    @staticmethod
    def type_bigint() -> str:
        return "bigint"

    @staticmethod
    def type_int() -> str:
        return "integer"

    @staticmethod
    def type_string() -> str:
        return "varchar"

    @staticmethod
    def type_float() -> str:
        return "double"

    @staticmethod
    def type_numeric() -> str:
        return "numeric(28, 6)"

    @staticmethod
    def type_boolean() -> str:
        return "boolean"

    @staticmethod
    def safe_cast(field, type_) -> str:
        return f"try_cast({field} as {type_})"

    @staticmethod
    def concat(fields) -> str:
        return " || ".join(str(f) for f in fields)

    @staticmethod
    def split_part(string_text, delimiter_text, part_number) -> str:
        return f"split_part({string_text}, {delimiter_text}, {part_number})"

    @staticmethod
    def right(string_text, length_expression) -> str:
        return f"right({string_text}, {length_expression})"

    @staticmethod
    def position(substring_text, string_text) -> str:
        return f"position({substring_text} in {string_text})"

    @staticmethod
    def hash(field) -> str:
        return f"md5(cast({field} as varchar))"

    @staticmethod
    def length(expression) -> str:
        return f"length({expression})"

    @staticmethod
    def replace(field, old_chars, new_chars) -> str:
        return f"replace({field}, {old_chars}, {new_chars})"


dbt = _Dbt()


def _as_bool(value) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() == "true"


def _as_number(value):
    return value if isinstance(value, (int, float)) else float(value)


# dbt's Jinja filters (sqlfluff reads this name from the library)
SQLFLUFF_JINJA_FILTERS = {"as_bool": _as_bool, "as_number": _as_number, "as_text": str, "as_native": lambda v: v}
