"""The claim computations as data (seeds claim_computations / claim_computation_filters,
macro quant_safety.claim_computations in macros/reporting/claim_computations.sql).

The macro is rendered with plain Jinja (dbt's `return`, `run_query`, `var`, `adapter.dispatch`
and `exceptions` stubbed as dbt defines them), its queries run on a hand-made DuckDB table and
compared with the same aggregates computed in Python from the rows; rows outside the fixed
vocabularies, hostile values and names must stop the compilation or stay literals. The
project's own seeds must all render (their values are checked on the demo warehouse by
tests/deliverables/test_claim_ledger.py).
"""

from __future__ import annotations

import csv
import re
import statistics
from pathlib import Path

import duckdb
import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MACRO_FILES = [
    ROOT / "macros" / "reporting" / "claim_computations.sql",
    ROOT / "macros" / "engine" / "quoting.sql",
    ROOT / "macros" / "marts" / "numeric.sql",
]
COMPUTATION_COLUMNS = [
    "claim_id",
    "computes",
    "relation",
    "aggregate",
    "value_column",
    "bundle_filter",
    "test_operator",
    "test_threshold_var",
]
FILTER_COLUMNS = ["claim_id", "computes", "clause", "filter_column", "operator", "filter_value", "filter_var"]


class CompileError(Exception):
    pass


class _Return(Exception):
    def __init__(self, value):
        self.value = value


def _raise_return(value):
    raise _Return(value)


def _raise_compile(message):
    raise CompileError(message)


class Result:
    def __init__(self, rows):
        self.rows = rows


def render(computations: list[dict], filters: list[dict], relations: list[str], variables: dict | None = None):
    """quant_safety.claim_computations over the given seed rows (dicts; missing or '' = NULL)."""
    modules = []

    def call(macro):
        def wrapped(*args, **kwargs):
            try:
                out = macro(*args, **kwargs)
            except _Return as r:
                return r.value
            return str(out)

        return wrapped

    def lookup(name):
        for module in modules:
            if hasattr(module, name):
                return call(getattr(module, name))
        raise AttributeError(name)

    class Namespace:
        def __getattr__(self, name):
            return lookup(name)

    class Adapter:
        def dispatch(self, name, package):
            try:
                return lookup("duckdb__" + name)
            except AttributeError:
                return lookup("default__" + name)

    def rows_of(seed, columns, order):
        rows = [[(r.get(c) if r.get(c) not in ("", None) else None) for c in columns] for r in seed]
        return sorted(rows, key=lambda r: [r[columns.index(c)] for c in order])

    def run_query(sql):
        if " from COMPUTATIONS " in sql + " ":
            return Result(rows_of(computations, COMPUTATION_COLUMNS, ["claim_id", "computes"]))
        assert " from FILTERS " in sql + " "
        return Result(rows_of(filters, FILTER_COLUMNS, ["claim_id", "computes", "clause", "filter_column", "operator"]))

    project_vars = dict(yaml.safe_load((ROOT / "dbt_project.yml").read_text())["vars"])
    project_vars.update(variables or {})
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    env.globals.update(
        {
            "quant_safety": Namespace(),
            "adapter": Adapter(),
            "execute": True,
            "run_query": run_query,
            "return": _raise_return,
            "exceptions": type("E", (), {"raise_compiler_error": staticmethod(_raise_compile)}),
            "modules": type("M", (), {"re": re}),
            "var": lambda name, default=None: project_vars.get(name, default),
        }
    )
    for path in MACRO_FILES:
        modules.append(env.from_string(path.read_text()).module)
    return lookup("claim_computations")("COMPUTATIONS", "FILTERS", relations)


# ------------------------------------------------------------------ values
ROWS = [  # base_model, quant, release_wave, scope, x, ok
    ("m1", "AWQ", 1, "all_cells", 1.5, True),
    ("m1", "GPTQ", 2, "all_cells", -4.0, False),
    ("m2", "AWQ", 1, "through_wave_1", 2.0, None),
    ("m2", "Q2_K", 1, "all_cells", None, True),
    ("m3", "GPTQ", 1, "through_wave_1", 7.25, True),
    ("m3", "AWQ", 2, "all_cells", -0.5, False),
    ("m4", "Q4_K_M", 1, "all_cells", 3.0, True),
]
COLUMNS = ["base_model", "quant", "release_wave", "scope", "x", "ok"]


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    con.execute(
        "create table t (base_model varchar, quant varchar, release_wave integer, scope varchar, x double, ok boolean)"
    )
    con.executemany("insert into t values (?, ?, ?, ?, ?, ?)", ROWS)
    yield con
    con.close()


def scalar(con, sql):
    return con.execute(f"select ({sql})").fetchone()[0]


def rows_where(pred, wave_1=False):
    out = [dict(zip(COLUMNS, r)) for r in ROWS]
    return [r for r in out if pred(r) and (not wave_1 or r["release_wave"] == 1)]


def xs(rows):
    return [r["x"] for r in rows if r["x"] is not None]


def of_x(function):
    """An aggregate of the non-NULL x values, NULL (None) when there is none, as in SQL."""
    return lambda rows: function(xs(rows)) if xs(rows) else None


AWQ_GPTQ = lambda r: r["quant"] in ("AWQ", "GPTQ")  # noqa: E731
EVERY = lambda r: True  # noqa: E731
CASES = [
    # (aggregate, value_column, filters, python aggregate over the matching rows)
    ("count", None, [("quant", "in", "AWQ|GPTQ")], AWQ_GPTQ, len),
    (
        "count_distinct",
        "base_model",
        [("quant", "in", "AWQ|GPTQ")],
        AWQ_GPTQ,
        lambda rs: len({r["base_model"] for r in rs}),
    ),
    ("sum", "x", [], EVERY, of_x(sum)),
    ("min", "x", [("ok", "is_true")], lambda r: r["ok"] is True, of_x(min)),
    ("max", "x", [("ok", "is_false")], lambda r: r["ok"] is False, of_x(max)),
    ("avg", "x", [("base_model", "=", "m3")], lambda r: r["base_model"] == "m3", of_x(statistics.fmean)),
    ("max_abs", "x", [], EVERY, of_x(lambda v: max(map(abs, v)))),
    ("min_negated", "x", [], EVERY, of_x(lambda v: -max(v))),
    ("max_negated", "x", [("x", "<", "2")], lambda r: r["x"] is not None and r["x"] < 2, of_x(lambda v: -min(v))),
    ("median", "x", [("x", ">=", "-1")], lambda r: r["x"] is not None and r["x"] >= -1, of_x(statistics.median)),
    ("exact_avg", "x", [("x", "not_null")], lambda r: r["x"] is not None, of_x(statistics.fmean)),
    ("sum_true", "ok", [], EVERY, lambda rs: sum(1 for r in rs if r["ok"] is True)),
    (
        "pct_true",
        "ok",
        [("quant", "=", "AWQ")],
        lambda r: r["quant"] == "AWQ",
        lambda rs: 100.0 * sum(1 for r in rs if r["ok"] is True) / len(rs),
    ),
    (
        "majority_true",
        "ok",
        [("quant", "in", "AWQ|GPTQ")],
        AWQ_GPTQ,
        lambda rs: int(len(rs) > 0 and 2 * sum(1 for r in rs if r["ok"] is True) >= len(rs)),
    ),
    ("majority_true", "ok", [("quant", "=", "none")], lambda r: False, lambda rs: 0),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_each_aggregate_on_the_whole_warehouse_and_on_release_wave_1(con, case):
    aggregate, column, filters, pred, py = CASES[case]
    computed = render(
        [
            {
                "claim_id": "C",
                "computes": "value_and_47cell",
                "relation": "t",
                "aggregate": aggregate,
                "value_column": column,
                "bundle_filter": "release_wave",
            }
        ],
        [
            {
                "claim_id": "C",
                "computes": "value_and_47cell",
                "clause": "where",
                "filter_column": c,
                "operator": op,
                "filter_value": v,
            }
            for c, op, *rest in filters
            for v in (rest or [None])
        ],
        ["t"],
    )
    assert [c["id"] for c in computed] == ["C"] and computed[0]["text"] is None
    for slot, wave_1 in (("value", False), ("value_47cell", True)):
        expected = py(rows_where(pred, wave_1))
        got = scalar(con, computed[0][slot])
        assert (got is None and expected is None) or got == pytest.approx(expected), (slot, computed[0][slot], got)


def test_value_flag_test_and_scope(con):
    comps = [
        {"claim_id": "V", "computes": "value", "relation": "t", "aggregate": "value", "value_column": "x"},
        {
            "claim_id": "F",
            "computes": "value_and_47cell",
            "relation": "t",
            "aggregate": "flag",
            "bundle_filter": "scope",
        },
        {
            "claim_id": "T",
            "computes": "value",
            "relation": "t",
            "aggregate": "max_abs",
            "value_column": "x",
            "test_operator": "<",
            "test_threshold_var": "floor_tight_tolerance_pp",
        },
        {
            "claim_id": "S",
            "computes": "value_and_47cell",
            "relation": "t",
            "aggregate": "count",
            "bundle_filter": "scope",
        },
        {"claim_id": "W", "computes": "value", "relation": "t", "aggregate": "max", "value_column": "x"},
        {
            "claim_id": "W",
            "computes": "value_47cell",
            "relation": "t",
            "aggregate": "min",
            "value_column": "x",
            "bundle_filter": "release_wave",
        },
        {"claim_id": "X", "computes": "text", "relation": "t", "aggregate": "min", "value_column": "quant"},
    ]
    filters = [
        {
            "claim_id": "V",
            "computes": "value",
            "clause": "where",
            "filter_column": "base_model",
            "operator": "=",
            "filter_value": "m2",
        },
        {
            "claim_id": "V",
            "computes": "value",
            "clause": "where",
            "filter_column": "quant",
            "operator": "=",
            "filter_value": "AWQ",
        },
        {
            "claim_id": "F",
            "computes": "value_and_47cell",
            "clause": "where",
            "filter_column": "base_model",
            "operator": "=",
            "filter_value": "m3",
        },
        {
            "claim_id": "F",
            "computes": "value_and_47cell",
            "clause": "flag",
            "filter_column": "x",
            "operator": ">",
            "filter_value": "0",
        },
        {
            "claim_id": "F",
            "computes": "value_and_47cell",
            "clause": "flag",
            "filter_column": "ok",
            "operator": "is_true",
        },
        {"claim_id": "T", "computes": "value", "clause": "where", "filter_column": "ok", "operator": "is_true"},
        {
            "claim_id": "X",
            "computes": "text",
            "clause": "where",
            "filter_column": "x",
            "operator": "<",
            "filter_var": "claim_significance_level",
        },
    ]
    out = {c["id"]: c for c in render(comps, filters, ["t"], {"floor_tight_tolerance_pp": 7})}
    assert scalar(con, out["V"]["value"]) == 2.0 and out["V"]["value_47cell"] is None
    # m3 has one row per scope: all_cells (AWQ, x -0.5, not ok) and through_wave_1 (GPTQ, x 7.25, ok)
    assert scalar(con, out["F"]["value"]) == 0 and scalar(con, out["F"]["value_47cell"]) == 1
    # |x| of the ok rows: 1.5, 7.25, 3.0 (and a NULL): max 7.25, not < 7
    assert scalar(con, out["T"]["value"]) == 0
    assert scalar(con, out["S"]["value"]) == 5 and scalar(con, out["S"]["value_47cell"]) == 2
    assert scalar(con, out["W"]["value"]) == 7.25 and scalar(con, out["W"]["value_47cell"]) == 1.5
    assert scalar(con, out["X"]["text"]) == "AWQ" and out["X"]["value"] is None  # x < 0.05: -4.0 (GPTQ), -0.5 (AWQ)


def test_a_hostile_text_value_stays_a_literal(con):
    payload = "AWQ' or '1' = '1"
    out = render(
        [{"claim_id": "H", "computes": "value", "relation": "t", "aggregate": "count"}],
        [
            {
                "claim_id": "H",
                "computes": "value",
                "clause": "where",
                "filter_column": "quant",
                "operator": "in",
                "filter_value": payload + "|GPTQ",
            }
        ],
        ["t"],
    )
    assert scalar(con, out[0]["value"]) == 2


@pytest.mark.parametrize(
    "change, message",
    [
        ({"relation": "matrix"}, "is not one of t"),
        ({"aggregate": "stddev"}, "aggregate"),
        ({"computes": "value_twice"}, "computes"),
        ({"value_column": "x; drop table t"}, "is not a column name"),
        ({"value_column": None}, "needs a value_column"),
        ({"aggregate": "count"}, "takes no value_column"),
        ({"computes": "value_and_47cell"}, "needs a bundle_filter"),
        ({"computes": "value_and_47cell", "bundle_filter": "release"}, "bundle_filter"),
        ({"test_operator": "<"}, "is not a var"),
        ({"test_operator": "=", "test_threshold_var": "refusal_drop_pp"}, "test_operator"),
        ({"test_operator": "<", "test_threshold_var": "phase6_task"}, "is not a number"),
        ({"test_operator": "<", "test_threshold_var": "no_such_var"}, "is not a var"),
    ],
)
def test_a_computation_outside_the_vocabulary_stops_the_compilation(change, message):
    row = {"claim_id": "B", "computes": "value", "relation": "t", "aggregate": "max", "value_column": "x"} | change
    with pytest.raises(CompileError, match=message) as err:
        render([row], [], ["t"])
    assert '"B"' in str(err.value)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"operator": "like"}, "filter operator"),
        ({"operator": "<", "filter_value": "1 or 1 = 1"}, "is not a number"),
        ({"operator": "<", "filter_value": "1", "filter_var": "refusal_drop_pp"}, "not both"),
        ({"operator": "=", "filter_value": None}, "needs a filter_value"),
        ({"operator": "is_true", "filter_value": "x"}, "takes no value"),
        ({"filter_column": 'x" or "1'}, "is not a column name"),
        ({"clause": "flag"}, "only with aggregate flag"),
        ({"clause": "having"}, "filter clause"),
        ({"computes": "text"}, "no claim_computations row"),
    ],
)
def test_a_filter_outside_the_vocabulary_stops_the_compilation(change, message):
    row = {
        "claim_id": "B",
        "computes": "value",
        "clause": "where",
        "filter_column": "x",
        "operator": ">",
        "filter_value": "1",
    } | change
    with pytest.raises(CompileError, match=message):
        render(
            [{"claim_id": "B", "computes": "value", "relation": "t", "aggregate": "max", "value_column": "x"}],
            [row],
            ["t"],
        )


def test_two_computations_of_one_output_stop_the_compilation():
    rows = [
        {"claim_id": "D", "computes": "value", "relation": "t", "aggregate": "count"},
        {
            "claim_id": "D",
            "computes": "value_and_47cell",
            "relation": "t",
            "aggregate": "count",
            "bundle_filter": "scope",
        },
    ]
    with pytest.raises(CompileError, match="a second computation of value"):
        render(rows, [], ["t"])
    with pytest.raises(CompileError, match="needs filters of clause flag"):
        render([{"claim_id": "D", "computes": "value", "relation": "t", "aggregate": "flag"}], [], ["t"])


def _seed(name):
    with (ROOT / "seeds" / "reference" / f"{name}.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_project_seeds_render_every_claim_once():
    """Every row of the shipped seeds passes the checks with the relations claim_ledger
    defines; every claim of `claims` has a computation (here or, MTX_*, in the model)."""
    model = (ROOT / "models" / "reporting" / "claim_ledger.sql").read_text()
    listed = re.search(r"set relations = \[(.*?)\]", model, re.S).group(1)
    relations = re.findall(r"'([a-z0-9_]+)'", listed)
    for name in relations:  # each one is a CTE of the model
        assert re.search(rf"^(with )?{name} as \(", model, re.M), name
    computed = render(_seed("claim_computations"), _seed("claim_computation_filters"), relations)
    ids = [c["id"] for c in computed]
    assert len(ids) == len(set(ids))
    claims = {r["claim_id"] for r in _seed("claims")}
    assert set(ids) | {"MTX_001", "MTX_002"} == claims
    for c in computed:
        assert (c["value"] is None) != (c["text"] is None), c["id"]
