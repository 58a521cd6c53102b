"""The Phase 6 text macros (macros/marts/text_features.sql) against Python.

The contract's reference implementation is Python: prefix = first n tokens of
re.sub('[^a-z0-9]+', ' ', text.lower()).strip(); token count = len(text.split()).
The engine-specific macro bodies are rendered with Jinja (they call nothing of
dbt's) and run on edge cases: leading newlines and tabs, Unicode spaces, long
runs of punctuation, tokens cut at the prefix window, and random strings.
"""
from __future__ import annotations

import random
import re
from pathlib import Path

import duckdb
import jinja2
import pytest

MACROS = Path(__file__).resolve().parents[2] / "macros" / "marts" / "text_features.sql"


def _macros():
    holder = {}

    class Namespace:               # `quant_safety.<macro>` calls inside the file
        def __getattr__(self, name):
            return getattr(holder["module"], name)

    env = jinja2.Environment()
    env.globals["quant_safety"] = Namespace()
    holder["module"] = env.from_string(MACROS.read_text()).module
    return holder["module"]


def py_prefix(text: str, n: int) -> str:
    return " ".join(re.sub("[^a-z0-9]+", " ", text.lower()).strip().split(" ")[:n])


def edge_texts(n: int) -> list[str]:
    w = 32 * n                      # the macro's prefix window
    fixed = [
        "", " ", "\n", "\t\t", "\nI am\n", "  a b  ", "\ta\t", "a\u00a0b", "a\u2003b\u3000c", "a\x0bb",
        "a\x1cb", "x\x85y", "I'm  sorry,\r\nbut no", "é ü\u200bz", "I'm sorry, but I can't help with that.",
        "a" * (w - 1) + " bb cc", "x " * n, ("x " * n)[:-1], "," * (w + 5) + "I can't",
        "w " * (n - 1) + "z" * (w + 10), "w " * n + "tail", "ÀB cd ÉF gh ij kl mn",
    ]
    rng = random.Random(7)
    noise = [("".join(rng.choice("ab Z9,.!' \n\té\u00a0") for _ in range(rng.randint(0, 3 * w)))) for _ in range(500)]
    return fixed + noise


@pytest.mark.parametrize("n", [1, 5])
def test_duckdb_prefix_and_token_count_equal_python(n):
    macros = _macros()
    prefix = str(macros.duckdb__refusal_prefix("t", n))
    tokens = str(macros.duckdb__whitespace_token_count("t"))
    texts = edge_texts(n)
    con = duckdb.connect()
    con.execute("create table t_in (i integer, t varchar)")
    con.executemany("insert into t_in values (?, ?)", list(enumerate(texts)))
    got = con.execute(f"select i, {prefix}, {tokens} from t_in order by i").fetchall()
    for (_i, p, k), text in zip(got, texts):
        assert (p, k) == (py_prefix(text, n), len(text.split())), repr(text)


@pytest.mark.spark
@pytest.mark.slow
def test_spark_prefix_and_token_count_equal_python():
    pyspark_sql = pytest.importorskip("pyspark.sql")
    macros = _macros()
    n = 5
    texts = edge_texts(n)
    spark = pyspark_sql.SparkSession.builder.master("local[1]").appName("text-features").getOrCreate()
    try:
        spark.createDataFrame(list(enumerate(texts)), "i int, t string").createOrReplaceTempView("t_in")
        rows = spark.sql(f"select i, {macros.spark__refusal_prefix('t', n)} as p, "
                         f"{macros.spark__whitespace_token_count('t')} as k from t_in order by i").collect()
    finally:
        spark.stop()
    for row, text in zip(rows, texts):
        assert (row.p, row.k) == (py_prefix(text, n), len(text.split())), repr(text)
