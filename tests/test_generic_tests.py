"""The project's generic data test row_checks (macros/tests/generic_tests.sql), run by
dbt on hand-made rows: every check of a model (not null, range, accepted values,
expression, NULL-exactly-when, inside an interval, and the key and relation checks
unique, relationships, has_row_in) shares one test node, so a failure must still say
which check failed, on which column or expression, how many rows and which values. The
expected rows are counted by hand from the literals."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from quant_safety.config import PROJECT_DIR

# k, a, b, s, lo, hi, opt, f
ROWS = ", ".join([
    "(1, 1, 0.5, 'x', 0.4, 0.5, 'p', true)",
    "(2, 2, 1.5, 'y', 0.0, 1.0, null, true)",
    "(3, 3, null, 'it''s', null, null, 'p', false)",
    "(4, 5, -2.5, 'z', -3.0, -2.0, 'q', true)",
    "(5, null, 0.0, null, 0.1, 0.2, null, null)",
    "(6, null, 2.0, 'w', 1.0, 3.0, 'r', true)",
])
COLUMNS = "k, a, b, s, lo, hi, opt, f"
# By hand, per check:
#   not_null [k, a, b]: k never NULL; a NULL on rows 5, 6; b NULL on row 3
#   a in [1, 2]: 3 and 5 fail (NULLs pass)       b >= 0: -2.5 fails
#   b <= 1: 1.5 and 2.0 fail                      k in [1, 6]: passes
#   s in ('x', 'it''s', 'w'): 'y' and 'z' fail (NULL passes, "it's" is accepted)
#   a in (1, 2, 3) unquoted: 5 fails              f in (true) unquoted: the false fails
#   a < 4: 5 fails, and the two NULLs fail        a <= 4, allow_null: only 5 fails
#   opt NULL exactly when a is NULL: row 2 (opt NULL, a 2) and row 6 (opt 'r', a NULL) fail
#   lo <= b <= hi: row 2 (1.5 > 1.0) and row 5 (0.0 < 0.1) fail; row 1 (b = hi) and row 3
#   (NULL) pass
CHECKS = (
    "[{'not_null': ['k', 'a', 'b']},"
    " {'column': 'a', 'min_value': 1, 'max_value': 2},"
    " {'column': 'b', 'min_value': 0},"
    " {'column': 'b', 'max_value': 1},"
    " {'column': 'k', 'min_value': 1, 'max_value': 6},"
    " {'column': 's', 'accepted_values': ['x', \"it's\", 'w']},"
    " {'column': 'a', 'accepted_values': [1, 2, 3], 'quote': false},"
    " {'column': 'f', 'accepted_values': [true], 'quote': false},"
    " {'expression': 'a < 4'},"
    " {'expression': 'a <= 4', 'allow_null': true},"
    " {'column': 'opt', 'null_exactly_when': 'a is null'},"
    " {'column': 'b', 'inside_interval': {'lower': 'lo', 'upper': 'hi'}},"
    " {'unique': ['k']}, {'unique': ['a']}, {'unique': ['opt']}, {'unique': ['a', 'f']},"
    " {'column': 's', 'relationships': {'to': PARENT_S, 'field': 'to_s'}},"
    " {'has_row_in': PARENT_KS, 'columns': ['k', 's']}]"
)
# By hand, the key and relation checks:
#   unique [k]: 1..6 distinct, passes      unique [a, f]: (1,t) (2,t) (3,f) (5,t) (null,null)
#                                          (null,t) all distinct, passes
#   unique [a]: the two NULLs share a key (NULLs count as equal): 2 rows, key 'null'
#   unique [opt]: 'p' twice and NULL twice: 4 rows, keys 'null' .. 'p'
#   s a value of PARENT_S.to_s ('x', 'y', "it's"): 'z' and 'w' fail, the NULL passes
#   (k, s) a row of PARENT_KS ((1,'x') (2,'y') (3,"it's") (4,'q')): rows 4 (z), 5 (s NULL
#   matches nothing) and 6 fail: keys '4, z' .. '6, w'
PARENT_S = "(select * from (values ('x'), ('y'), ('it''s')) as p(to_s))"
PARENT_KS = "(select * from (values (1, 'x'), (2, 'y'), (3, 'it''s'), (4, 'q')) as p(k, s))"
# every check holds on these rows (NULLs where each check lets them pass)
VALID_ROWS = ("(1, 1, 0.5, 'x', 0.5, 0.5, 'p', true), (2, 2, null, 'it''s', 0.0, 1.0, 'q', true),"
              " (3, 2, 1.0, null, 0.0, 1.0, 'r', null)")
VALID_CHECKS = (
    "[{'not_null': ['k', 'a']},"
    " {'column': 'a', 'min_value': 1, 'max_value': 2},"
    " {'column': 'b', 'min_value': 0, 'max_value': 1},"
    " {'column': 's', 'accepted_values': ['x', \"it's\"]},"
    " {'column': 'a', 'accepted_values': [1, 2], 'quote': false},"
    " {'column': 'f', 'accepted_values': [true], 'quote': false},"
    " {'expression': 'a < 4'},"
    " {'column': 'opt', 'null_exactly_when': 'a is null'},"
    " {'column': 'b', 'inside_interval': {'lower': 'lo', 'upper': 'hi'}},"
    " {'unique': ['k']}, {'unique': ['a', 'b']},"
    " {'column': 's', 'relationships': {'to': PARENT_S, 'field': 'to_s'}},"
    " {'has_row_in': PARENT_KS, 'columns': ['k']}]"
)


def _relation(values: str, columns: str) -> str:
    return f"(select * from (values {values}) as t({columns}))"


def _row_checks(values: str, checks: str) -> str:
    """The rendered test; the Jinja names PARENT_S / PARENT_KS in checks are the parents."""
    parents = "{%- set PARENT_S = \"" + PARENT_S + "\" %}{%- set PARENT_KS = \"" + PARENT_KS + "\" %}"
    model = _relation(values, COLUMNS)
    return parents + "{{ quant_safety.test_row_checks(model=\"" + model + "\", checks=" + checks + ") }}"


CASES = {"failing": _row_checks(ROWS, CHECKS), "valid": _row_checks(VALID_ROWS, VALID_CHECKS)}


def _dbt_show(work: Path, inline: str, *options: str) -> subprocess.CompletedProcess:
    """`dbt show --inline` of the SQL on a scratch DuckDB file in work."""
    dbt = str(Path(sys.executable).with_name("dbt"))
    env = {**os.environ, "QSAFETY_DB": str(work / "scratch.duckdb"), "QSAFETY_BUILD_DB": str(work / "scratch.duckdb")}
    return subprocess.run(
        [dbt, "--no-use-colors", "--quiet", "show", "--profiles-dir", str(PROJECT_DIR),
         "--project-dir", str(PROJECT_DIR), "--target-path", str(work / "target"),
         "--log-path", str(work / "logs"), *options, "--inline", inline],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
    )


@pytest.fixture(scope="module")
def failing_rows(tmp_path_factory) -> dict[str, list[dict]]:
    """Every case's rendered test run by one `dbt show --inline` (one dbt parse):
    case name -> the test's failing rows."""
    inline = "\nunion all\n".join(
        f"select '{name}' as case_name, to_json(failing) as failing_row from ({sql}\n) as failing"
        for name, sql in CASES.items())
    proc = _dbt_show(tmp_path_factory.mktemp("generic_tests"), inline, "--output", "json", "--limit", "100")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    out = proc.stdout
    shown = json.loads(out[out.index("{"):out.rindex("}") + 1])["show"]
    cases: dict[str, list[dict]] = {name: [] for name in CASES}
    for row in shown:
        cases[row["case_name"]].append(json.loads(row["failing_row"]))
    return cases


def _by_check(rows: list[dict]) -> dict[tuple[str, str, str], tuple]:
    got = {}
    for r in rows:
        key = (r["check_kind"], r["column_name"], r["problem"])
        assert key not in got, key
        got[key] = (r["failing_rows"], r["lowest_failing_value"], r["highest_failing_value"])
    return got


def _number(value):
    return None if value is None else float(value)


def test_row_checks_names_each_failing_check_its_row_count_and_values(failing_rows):
    got = _by_check(failing_rows["failing"])
    numeric = {k: (n, _number(lo), _number(hi)) for k, (n, lo, hi) in got.items()
               if k[0] in ("between", "inside_interval") or (k[1] == "a" and k[0] != "unique")}
    assert numeric == {
        ("between", "a", "outside [1, 2]"): (2, 3.0, 5.0),
        ("between", "b", "outside [0, ]"): (1, -2.5, -2.5),
        ("between", "b", "outside [, 1]"): (2, 1.5, 2.0),
        ("accepted_values", "a", "not in (1, 2, 3)"): (1, 5.0, 5.0),
        ("inside_interval", "b", "outside [lo, hi]"): (2, 0.0, 1.5),
        ("not_null", "a", "is null"): (2, None, None),
    }
    text = {k: v for k, v in got.items() if k not in numeric}
    assert text == {
        ("not_null", "b", "is null"): (1, None, None),
        ("accepted_values", "s", "not in ('x', 'it''s', 'w')"): (2, "y", "z"),
        ("accepted_values", "f", "not in (true)"): (1, "false", "false"),
        ("expression", "a < 4", "is false or null"): (3, None, None),
        ("expression", "a <= 4", "is false"): (1, None, None),
        ("null_exactly_when", "opt", "(is null) <> (a is null)"): (2, "r", "r"),
        ("unique", "a", "duplicated"): (2, "null", "null"),
        ("unique", "opt", "duplicated"): (4, "null", "p"),
        ("relationships", "s", "not a value of " + PARENT_S + ".to_s"): (2, "w", "z"),
        ("has_row_in", "k, s", "no row in " + PARENT_KS): (3, "4, z", "6, w"),
    }


def test_row_checks_passes_on_valid_rows(failing_rows):
    assert failing_rows["valid"] == []


@pytest.mark.parametrize("checks, message", [
    ("[{'column': 'a', 'min_valu': 1}]", "unknown key min_valu"),
    ("[{'column': 'a'}]", "has no check"),
    ("[{'unique': 'a'}]", "unique takes a list of columns"),
    ("[{'column': 's', 'relationships': {'to': PARENT_S}}]", "relationships takes to and field"),
    ("[{'has_row_in': PARENT_KS}]", "has_row_in takes a list of columns"),
])
def test_row_checks_refuses_an_entry_it_cannot_check(tmp_path, checks, message):
    """A misspelt key would otherwise be a check that never fails."""
    proc = _dbt_show(tmp_path, _row_checks(VALID_ROWS, checks))
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
