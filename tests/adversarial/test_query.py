"""`qsafety query` is read-only: external access disabled, configuration
locked, one SELECT/EXPLAIN at a time. Every refused statement exits 2 with one
line saying why; nothing is written (the warehouse file byte-identical, no file
created), no other database attached or created, no extension fetched."""
from __future__ import annotations

import pytest

from .conftest import Sandbox, case_settings, one_error_line, run_cli, sha


@pytest.fixture()
def tiny(tmp_path):
    import duckdb

    cfg = case_settings(tmp_path)
    cfg.db_path.parent.mkdir(parents=True)
    with duckdb.connect(str(cfg.db_path)) as con:
        con.execute(
            "create table matrix as select 'phi-2' as base_model, 'Q4_K_M' as quant, 0.5 as safety_refusal_rate"
        )
    (tmp_path / "secret.csv").write_text("token\nhunter2\n")
    return cfg


def _cases(root):
    pwn = root / "pwned.csv"
    other = root / "other.duckdb"
    secret = root / "secret.csv"
    return {
        # statement -> fragment of the one-line refusal
        "copy_to": (f"copy (select * from matrix) to '{pwn}'", "COPY"),
        "copy_in_cte_select": (f"select * from matrix; copy matrix to '{pwn}'", "one statement at a time"),
        "attach_read_write": (f"attach '{other}' as other (read_write)", "ATTACH"),
        "install_extension": ("install httpfs", "INSTALL"),
        "load_extension": ("load httpfs", "LOAD"),
        "set_external_access": ("set enable_external_access = true", "SET"),
        "pragma_profiling_output": (f"pragma profiling_output = '{pwn}'", "PRAGMA"),
        "create_table": ("create table t as select 1", "CREATE"),
        "insert": ("insert into matrix values ('x', 'y', 1)", "INSERT"),
        "export_database": (f"export database '{root / 'dump'}'", "EXPORT"),
        "read_csv_local_file": (f"select * from read_csv('{secret}')", "disabled by configuration"),
        "read_text_system_file": ("select * from read_text('/etc/hostname')", "disabled by configuration"),
        "glob_file_system": ("select * from glob('/etc/*')", "disabled by configuration"),
        "read_parquet_in_subquery": (f"select (select count(*) from read_parquet('{root}/*.parquet')) as n",
                                     "disabled by configuration"),
        "two_statements": ("select 1; select 2", "one statement at a time"),
        "checkpoint": ("checkpoint", "CALL"),
        "not_sql": ("this is not sql", "does not parse"),
    }


CASES = sorted(_cases(__import__("pathlib").Path("/x")))


@pytest.mark.parametrize("case", CASES)
def test_statement_is_refused(case, tiny, tmp_path, monkeypatch, capsys):
    sql, fragment = _cases(tmp_path)[case]
    before = sha(tiny.db_path)
    box = Sandbox(tmp_path, writable=[], canaries=[tmp_path / "pwned.csv", tmp_path / "other.duckdb",
                                                   tmp_path / "dump"])
    code, out, err = run_cli(["query", sql], tiny, monkeypatch, capsys)
    assert code == 2, out
    line = one_error_line(err)
    assert fragment in line, line
    assert "hunter2" not in out + err
    assert sha(tiny.db_path) == before
    box.check()


@pytest.mark.parametrize(
    "sql",
    [
        "select * from matrix",
        "describe matrix",
        "show tables",
        "from matrix",
        "explain select * from matrix",
        "with m as (select * from matrix) select count(*) from m",
        "select 1;",
    ],
)
def test_read_only_statements_run(sql, tiny, tmp_path, monkeypatch, capsys):
    before = sha(tiny.db_path)
    box = Sandbox(tmp_path, writable=[])
    code, out, err = run_cli(["query", sql], tiny, monkeypatch, capsys)
    assert code == 0, err
    assert out.strip()
    assert sha(tiny.db_path) == before
    box.check()
