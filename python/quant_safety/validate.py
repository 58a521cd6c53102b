"""Validation of every value that comes from outside the code before it is used.

Lockfile fields, file names found in a raw dir, dbt vars, environment variables
and CLI arguments are checked here first; what passes reaches SQL only as data
(the audit CSVs the dbt models read) or through the quoting macros
(macros/engine/quoting.sql). Every failure is one line naming the value, where
it came from and the rule it breaks (InputError).

Rules:
  source_label  safe character set: letters, digits, `_ . -` (1-128, first a letter or digit)
  relative_path relative, normalised (no `.`/`..`/empty parts, `/` as separator), no control
                character; the file it names is a regular file inside the raw dir, and no
                symlink on the way leaves the raw dir (checked on the resolved path)
  sha256        64 lower-case hex digits (empty = not locked yet)
  counts        non-negative integers (empty = not locked yet); precedence, release_wave
                non-negative integers
  record_kind   A, B, C, D or E, with its role (quality, safety, judge, safety_text, second_judge)
  dbt vars      the rules of `var_rules` in dbt_project.yml (numbers in a stated range,
                choices, names); unknown names and the vars the build sets itself
                (raw_dir, source_audit_file, var_rules) are refused
"""
from __future__ import annotations

import math
import os
import posixpath
import re
import stat
from functools import lru_cache
from pathlib import Path

from .errors import InputError
from .layout import ROLE_OF_KIND

LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
COUNT_RE = re.compile(r"[0-9]{1,18}")
# a name-like dbt var value (a task, a quant level, a refusal type): no quote, no space
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# vars the build itself sets: overriding them would read or audit something else
RESERVED_VARS = {"raw_dir": "the raw dir is QSAFETY_RAW_DIR, which the pre-flight audits",
                 "source_audit_file": "the build writes the source audit itself",
                 "var_rules": "the rules of the vars are part of the project"}


def _shown(value) -> str:
    text = repr(str(value))
    return text if len(text) <= 80 else text[:77] + "...'"


# ---------------------------------------------------------------- lockfile fields
def check_label(value: str, where: str) -> str:
    if not isinstance(value, str) or not LABEL_RE.fullmatch(value):
        raise InputError(f"{where}: source_label {_shown(value)} is not a safe label "
                         f"(letters, digits, _ . - ; at most 128, starting with a letter or digit)")
    return value


def check_sha256(value: str, where: str, allow_empty: bool = True) -> str:
    value = "" if value is None else str(value)
    if value == "" and allow_empty:
        return value
    if not SHA256_RE.fullmatch(value):
        raise InputError(f"{where}: sha256 {_shown(value)} is not 64 lower-case hex digits")
    return value


def check_count(value, where: str, column: str, allow_empty: bool = True) -> str:
    text = "" if value is None else str(value).strip()
    if text == "" and allow_empty:
        return ""
    if not COUNT_RE.fullmatch(text):
        raise InputError(f"{where}: {column} {_shown(value)} is not a non-negative integer")
    return str(int(text))


def check_relative_path(value: str, where: str) -> str:
    """The syntactic rules of a manifest path (no file system access)."""
    if not isinstance(value, str) or value == "":
        raise InputError(f"{where}: relative_path is empty")
    if CONTROL_RE.search(value):
        raise InputError(f"{where}: relative_path {_shown(value)} holds a control character")
    if "\\" in value:
        raise InputError(f"{where}: relative_path {_shown(value)} holds a backslash (use / between directories)")
    if value.startswith("/"):
        raise InputError(f"{where}: relative_path {_shown(value)} is absolute; paths are relative to the raw dir")
    parts = value.split("/")
    if any(p in ("", ".", "..") for p in parts) or posixpath.normpath(value) != value:
        raise InputError(f"{where}: relative_path {_shown(value)} is not normalised "
                         f"(no '.', '..' or empty parts; it must stay inside the raw dir)")
    return value


def resolve_inside(raw_dir: Path, relative_path: str, where: str,
                   trusted_roots: tuple[Path, ...] = ()) -> Path:
    """The real path of a manifest file: it must exist, be a regular file, and
    lie inside the raw dir once every symlink is resolved (or inside one of
    `trusted_roots`: `qsafety screen` links the real raw dir and the screened
    dir into its scratch raw dir)."""
    check_relative_path(relative_path, where)
    shown = Path(raw_dir) / relative_path
    try:
        real = Path(os.path.realpath(shown, strict=True))
    except (OSError, RuntimeError) as exc:
        if not os.path.lexists(shown):
            raise InputError(f"{shown}: file missing ({where})") from None
        raise InputError(f"{shown}: cannot be resolved ({where}): {exc}") from None
    roots = [Path(os.path.realpath(raw_dir))] + [Path(os.path.realpath(r)) for r in trusted_roots]
    if not any(real == root or root in real.parents for root in roots):
        raise InputError(f"{shown}: resolves to {real}, outside the raw dir {roots[0]} "
                         f"(a symlink leaving the raw dir is not read; {where})")
    mode = os.stat(real).st_mode
    if not stat.S_ISREG(mode):
        raise InputError(f"{shown}: not a regular file ({where})")
    return real


def check_manifest_rows(rows: list[dict], manifest_path: Path) -> list[dict]:
    """Every lockfile field checked; one line naming the file, row and field on the first problem."""
    seen_labels: dict[str, int] = {}
    seen_paths: dict[str, int] = {}
    for index, row in enumerate(rows):
        line = index + 2          # the CSV header is line 1
        where = f"{manifest_path}: row {line}"
        label = check_label(row.get("source_label"), where)
        where = f"{manifest_path}: row {line} ({label})"
        if label in seen_labels:
            raise InputError(f"{where}: source_label {label!r} repeats row {seen_labels[label]}")
        seen_labels[label] = line
        kind = row.get("record_kind")
        if kind not in ROLE_OF_KIND:
            raise InputError(f"{where}: record_kind {_shown(kind)} is not one of " + ", ".join(ROLE_OF_KIND))
        if row.get("role") != ROLE_OF_KIND[kind]:
            raise InputError(f"{where}: role {_shown(row.get('role'))} does not match record_kind {kind} "
                             f"(expected {ROLE_OF_KIND[kind]})")
        rel = check_relative_path(row.get("relative_path"), where)
        if rel in seen_paths:
            raise InputError(f"{where}: relative_path {rel!r} is also the file of row {seen_paths[rel]}")
        seen_paths[rel] = line
        check_sha256(row.get("sha256"), where)
        for column in ("expected_raw_rows", "expected_loaded_rows"):
            row[column] = check_count(row.get(column), where, column)
        for column in ("precedence", "release_wave"):
            row[column] = check_count(row.get(column), where, column, allow_empty=False)
    return rows


# ---------------------------------------------------------------- dbt vars
@lru_cache(maxsize=1)
def project_vars() -> dict:
    """The vars of dbt_project.yml (their defaults) and their rules (`var_rules`)."""
    import yaml

    from .config import PROJECT_DIR

    with open(PROJECT_DIR / "dbt_project.yml", encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle).get("vars") or {})


def var_rules() -> dict:
    return dict(project_vars().get("var_rules") or {})


def _coerce_number(name: str, value, integer: bool):
    if isinstance(value, bool):
        raise InputError(f"var {name}: {_shown(value)} is not a number")
    if isinstance(value, (int, float)):
        number = value
    else:
        text = str(value).strip()
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text):
            raise InputError(f"var {name}: {_shown(value)} is not a number")
        number = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(number, float) and not math.isfinite(number):
        raise InputError(f"var {name}: {_shown(value)} is not a finite number")
    if integer:
        if isinstance(number, float):
            if not number.is_integer():
                raise InputError(f"var {name}: {_shown(value)} is not an integer")
            number = int(number)
    return number


def check_var(name: str, value, rules: dict | None = None):
    """One dbt var checked against its rule; returns the value typed (int, float, bool, str, list)."""
    rules = var_rules() if rules is None else rules
    if name in RESERVED_VARS:
        raise InputError(f"var {name}: cannot be overridden ({RESERVED_VARS[name]})")
    if name not in rules:
        raise InputError(f"var {name}: unknown var (the vars of dbt_project.yml: {', '.join(sorted(rules))})")
    rule = rules[name]
    if "number" in rule or "integer" in rule:
        integer = "integer" in rule
        low, high = rule["integer" if integer else "number"]
        number = _coerce_number(name, value, integer)
        if not low <= number <= high:
            raise InputError(f"var {name}: {number} is outside [{low}, {high}]")
        return number
    if "choice" in rule:
        text = str(value).strip()
        if text not in rule["choice"]:
            raise InputError(f"var {name}: {_shown(value)} is not one of {', '.join(map(str, rule['choice']))}")
        return text
    if "choices" in rule:
        items = value if isinstance(value, list) else [v.strip() for v in str(value).strip("[]").split(",")]
        items = [str(v).strip().strip("'\"") for v in items if str(v).strip()]
        bad = [v for v in items if v not in rule["choices"]]
        if bad or not items:
            raise InputError(f"var {name}: {_shown(bad[0] if bad else value)} is not one of "
                             f"{', '.join(rule['choices'])} (a comma-separated list)")
        return items
    if "name" in rule:
        text = str(value).strip()
        if not NAME_RE.fullmatch(text):
            raise InputError(f"var {name}: {_shown(value)} is not a name (letters, digits, _ . + -)")
        return text
    if "boolean" in rule:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in ("true", "false"):
            raise InputError(f"var {name}: {_shown(value)} is not true or false")
        return text == "true"
    raise InputError(f"var {name}: dbt_project.yml var_rules has no usable rule for it")


def check_dbt_vars(overrides: dict | None) -> dict:
    """Every override checked (a one-line InputError naming the first bad var); typed values."""
    rules = var_rules()
    return {name: check_var(name, value, rules) for name, value in (overrides or {}).items()}


def parse_var_pairs(pairs: list[str] | None) -> dict:
    """`--var key=value` pairs (CLI) as a dict, checked."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--var {_shown(pair)}: expected key=value")
        out[key.strip()] = value.strip()
    return check_dbt_vars(out)


def effective_var(name: str, overrides: dict | None = None):
    """The value a build uses: the override, else the dbt_project.yml default."""
    if overrides and name in overrides:
        return overrides[name]
    return project_vars()[name]


# ---------------------------------------------------------------- environment
# a size: a number and a unit (DuckDB's memory_limit also takes a percentage of RAM);
# Spark's byte settings also take a bare number of bytes
MEMORY_RE = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B?|B|%)", re.IGNORECASE)
BYTES_RE = re.compile(r"\d+(\.\d+)?\s*([KMGTP]i?B?|B)?", re.IGNORECASE)
ENV_RULES = {
    "QSAFETY_TARGET": ("one of duckdb, spark", lambda v: v in ("duckdb", "spark")),
    "QSAFETY_DUCKDB_THREADS": ("a positive integer", lambda v: v.isdigit() and int(v) > 0),
    "QSAFETY_DBT_THREADS": ("a positive integer", lambda v: v.isdigit() and int(v) > 0),
    "QSAFETY_DUCKDB_MEMORY_LIMIT": (
        "a size such as 1GB, 512MiB or 50%, or -1",
        lambda v: v == "-1" or bool(MEMORY_RE.fullmatch(v)),
    ),
    "QSAFETY_SPARK_DRIVER_MEMORY": ("a JVM size such as 4g", lambda v: bool(re.fullmatch(r"\d+[kmgt]?", v, re.I))),
    "QSAFETY_SPARK_CORES": ("a positive integer or *", lambda v: v == "*" or (v.isdigit() and int(v) > 0)),
    "QSAFETY_SPARK_SHUFFLE_PARTITIONS": ("a positive integer", lambda v: v.isdigit() and int(v) > 0),
    "QSAFETY_SPARK_MAX_PARTITION_BYTES": ("a size such as 128MB or 65536", lambda v: bool(BYTES_RE.fullmatch(v))),
    "QSAFETY_SPARK_SCHEMA": (
        "a name (letters, digits, _)",
        lambda v: bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", v)),
    ),
    "QSAFETY_STATS_WORKERS": ("a positive integer", lambda v: v.isdigit() and int(v) > 0),
    "QSAFETY_GX_HISTORY": ("a positive integer", lambda v: v.isdigit() and int(v) > 0),
    "QSAFETY_DUCKDB_STORAGE_VERSION": (
        "a DuckDB version such as v1.0.0, or latest",
        lambda v: v == "latest" or bool(re.fullmatch(r"v?\d+\.\d+\.\d+", v)),
    ),
}


def check_environment(env: dict | None = None) -> None:
    """The environment variables that reach dbt's profile or SQL."""
    env = os.environ if env is None else env
    for name, (what, ok) in ENV_RULES.items():
        value = env.get(name)
        if value is not None and value != "" and not ok(value.strip()):
            raise InputError(f"environment variable {name}={_shown(value)}: must be {what}")
