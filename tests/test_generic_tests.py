"""The project's multi-column generic data tests (macros/tests/generic_tests.sql),
run by dbt on hand-made rows: a model's not-null and range checks share one test
node, so a failure must still say which column failed, how many rows and (for a
range) which values. The expected rows are counted by hand from the literals."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from quant_safety.config import PROJECT_DIR

# (a, b, c): a NULL twice, b once, c never
ROWS = "(1, 0.5, 'x'), (2, 1.5, 'y'), (3, null, 'z'), (5, -2.5, 'w'), (null, 0.0, 'v'), (null, 2.0, 'u')"
# (a, b, c): a outside [1, 2] twice (3 and 5), b below 0 once (-2.5), c above 10 once (11);
# NULLs pass a range check
NUMBERS = "(1, 0.5, 10), (2, -2.5, 11), (3, 1.0, 1), (5, null, 2), (null, 0.0, 0)"


def _relation(values: str, columns: str) -> str:
    return f"(select * from (values {values}) as t({columns})) as hand_made"


NOT_NULL = ("{{ quant_safety.test_not_null_columns(model=\"" + _relation(ROWS, "a, b, c")
            + "\", columns=['a', 'b', 'c']) }}")
BETWEEN = ("{{ quant_safety.test_columns_between(model=\"" + _relation(NUMBERS, "a, b, c") + "\", checks="
           "[{'column': 'a', 'min_value': 1, 'max_value': 2}, {'column': 'b', 'min_value': 0},"
           " {'column': 'c', 'max_value': 10}]) }}")
VALID_BETWEEN = ("{{ quant_safety.test_columns_between(model=\"" + _relation("(1, 0.0), (2, 1.0), (null, null)", "a, b")
                 + "\", checks=[{'column': 'a', 'min_value': 1, 'max_value': 2},"
                 " {'column': 'b', 'min_value': 0, 'max_value': 1}]) }}")
VALID_NOT_NULL = ("{{ quant_safety.test_not_null_columns(model=\"" + _relation("(1, 0.0), (2, 1.0)", "a, b")
                  + "\", columns=['a', 'b']) }}")
CASES = {"not_null": NOT_NULL, "between": BETWEEN, "valid_between": VALID_BETWEEN, "valid_not_null": VALID_NOT_NULL}


@pytest.fixture(scope="module")
def failing_rows(tmp_path_factory) -> dict[str, list[dict]]:
    """Every case's rendered test run by one `dbt show --inline` on a scratch DuckDB
    file (one dbt parse): case name -> the test's failing rows."""
    work = tmp_path_factory.mktemp("generic_tests")
    dbt = str(Path(sys.executable).with_name("dbt"))
    env = {**os.environ, "QSAFETY_DB": str(work / "scratch.duckdb"), "QSAFETY_BUILD_DB": str(work / "scratch.duckdb")}
    inline = "\nunion all\n".join(
        f"select '{name}' as case_name, to_json(failing) as failing_row from ({sql}\n) as failing"
        for name, sql in CASES.items())
    proc = subprocess.run(
        [dbt, "--no-use-colors", "--quiet", "show", "--profiles-dir", str(PROJECT_DIR),
         "--project-dir", str(PROJECT_DIR), "--target-path", str(work / "target"),
         "--log-path", str(work / "logs"), "--output", "json", "--limit", "100", "--inline", inline],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    out = proc.stdout
    shown = json.loads(out[out.index("{"):out.rindex("}") + 1])["show"]
    cases: dict[str, list[dict]] = {name: [] for name in CASES}
    for row in shown:
        cases[row["case_name"]].append(json.loads(row["failing_row"]))
    return cases


def test_not_null_columns_names_each_failing_column_and_its_null_count(failing_rows):
    got = sorted((r["column_name"], r["problem"], r["failing_rows"]) for r in failing_rows["not_null"])
    assert got == [("a", "is null", 2), ("b", "is null", 1)]


def test_columns_between_names_the_column_the_range_and_the_failing_values(failing_rows):
    got = {r["column_name"]: (r["problem"], r["failing_rows"], float(r["lowest_failing_value"]),
                              float(r["highest_failing_value"])) for r in failing_rows["between"]}
    assert got == {
        "a": ("outside [1, 2]", 2, 3.0, 5.0),
        "b": ("outside [0, ]", 1, -2.5, -2.5),
        "c": ("outside [, 10]", 1, 11.0, 11.0),
    }


def test_columns_between_and_not_null_columns_pass_on_valid_rows(failing_rows):
    assert failing_rows["valid_between"] == []
    assert failing_rows["valid_not_null"] == []
