"""Issue 16 on the Spark target: the hostile raw files of the adversarial suite
(tests/adversarial/hostile.py) staged on Spark give every line the same status
at the same line number as on DuckDB, and as written by hand there: line
numbers of bytes.split(b"\\n") whatever a line holds (a stray \\r, \\x01, NUL),
line_too_long, ambiguous_duplicate_key, file names with a SQL payload and with
glob characters read as data, exactly (Spark reads a path as a glob: the
quoting escapes it). A file rewritten after the pre-flight is refused (sha256
of the bytes read checked in the same query). `qsafety query` on Spark refuses
commands, file-source queries and reflect().

Needs Java and the `spark` extra; slow (a local Spark session per build).
"""
from __future__ import annotations

import os
import shutil

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.slow]

pytest.importorskip("pyspark")
pytest.importorskip("dbt.adapters.spark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("java not found", allow_module_level=True)

from quant_safety import manifest  # noqa: E402
from quant_safety.config import Settings  # noqa: E402
from quant_safety.engine.dbt_runner import run_dbt  # noqa: E402
from quant_safety.engine.query import QueryRefused, query_read_only  # noqa: E402
from quant_safety.engine.readers import open_reader  # noqa: E402
from quant_safety.errors import InputError  # noqa: E402

from ..adversarial.hostile import payload_path, write_file, write_hostile  # noqa: E402
from .pipeline import fast_local_env  # noqa: E402

LIMIT = 4096      # raw_line_max_bytes for this test: long lines stay small on a local Spark
VARS = {"raw_line_max_bytes": LIMIT}
STATUS = """select source_label, source_line, load_status, coalesce(status_reason, '') from {table}"""


def _build(root, raw, manifest_dir, target, select="+staging +audit") -> Settings:
    cfg = Settings(raw_dir=raw, db_path=root / target / "warehouse.duckdb", manifest_dir=manifest_dir,
                   out_dir=root / target / "bundle", target=target)
    rows = manifest.read_manifest(cfg.manifest_path)
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    manifest.write_audit(manifest.audit_sources(cfg.raw_dir, rows, max_line_bytes=LIMIT),
                         cfg.work_dir / "source_audit.csv")
    run_dbt(cfg, cfg.db_path, ["build", "--select", select, "--indirect-selection", "cautious",
                               "--resource-type", "seed", "--resource-type", "model"], dbt_vars=VARS, quiet=True)
    return cfg


def _statuses(cfg) -> dict:
    out = {}
    with open_reader(cfg.target, cfg.db_path, cfg.spark_dir) as reader:
        for kind in ("quality", "safety", "judge", "text", "second_judge"):
            for label, line, status, reason in reader.rows(STATUS.format(table=f"audit_{kind}__lines")):
                out[(label, int(line))] = (status, reason)
    return out


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark_hostile")
    raw = root / "raw"
    expected = write_hostile(raw, root, limit=LIMIT, long_line=200_000)
    rows, notes = manifest.refresh_rows(raw, manifest.default_manifest_rows())
    assert {r["relative_path"] for r in rows} == set(expected), notes
    manifest.write_manifest(rows, root / "manifest" / "source_manifest.csv")
    env = fast_local_env()
    env["QSAFETY_SPARK_DIR"] = str(root / "spark")
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        duck = _build(root, raw, root / "manifest", "duckdb")
        spark = _build(root, raw, root / "manifest", "spark")
        statuses = {"duckdb": _statuses(duck), "spark": _statuses(spark)}
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {"root": root, "raw": raw, "rows": rows, "expected": expected, "statuses": statuses,
            "spark": spark, "env": env}


def _comparable(statuses: dict) -> dict:
    """The status and reason of every line; an out_of_range detail without its number
    (the engines print a double differently: Infinity / inf, 1.2E29 / 1.2e+29)."""
    return {key: (status, reason.rsplit(" ", 1)[0] if reason.startswith("out_of_range") else reason)
            for key, (status, reason) in statuses.items()}


def test_spark_gives_every_line_the_duckdb_status(staged):
    assert _comparable(staged["statuses"]["spark"]) == _comparable(staged["statuses"]["duckdb"])


def test_spark_statuses_are_those_written_by_hand(staged):
    labels = {r["relative_path"]: r["source_label"] for r in staged["rows"]}
    status = staged["statuses"]["spark"]
    for rel, (data, expected) in staged["expected"].items():
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        assert len(lines) == len(expected) == sum(1 for k in status if k[0] == labels[rel]), rel
        for number, (want_status, want_reason) in enumerate(expected, 1):
            got = status[(labels[rel], number)]
            assert got[0] == want_status and got[1].startswith(want_reason), (rel, number, got)
    assert not payload_path(staged["root"])[1].exists()


def test_spark_refuses_a_file_rewritten_after_the_audit(staged, tmp_path):
    root, raw = staged["root"], staged["raw"]
    cfg = Settings(raw_dir=raw, db_path=tmp_path / "w.duckdb", manifest_dir=root / "manifest",
                   out_dir=tmp_path / "b", target="spark")
    rows = manifest.read_manifest(cfg.manifest_path)
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    manifest.write_audit(manifest.audit_sources(cfg.raw_dir, rows, max_line_bytes=LIMIT),
                         cfg.work_dir / "source_audit.csv")
    victim = raw / "hostile/crlf_bom.jsonl"
    data = bytearray(victim.read_bytes())
    data[10] ^= 1
    write_file(victim, bytes(data))
    saved = dict(os.environ)
    os.environ.update(staged["env"])
    os.environ["QSAFETY_SPARK_DIR"] = str(tmp_path / "spark")
    try:
        with pytest.raises(InputError, match="changed while the build ran") as info:
            run_dbt(cfg, cfg.db_path, ["build", "--select", "+base_safety__lines", "--resource-type", "seed",
                                       "--resource-type", "model"], dbt_vars=VARS, quiet=True)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        data[10] ^= 1
        write_file(victim, bytes(data))
    assert str(victim) in str(info.value)


@pytest.mark.parametrize("sql, fragment", [
    ("insert into audit_quarantine select * from audit_quarantine", "read-only"),
    ("drop table audit_sources", "read-only"),
    ("set spark.sql.runSQLOnFiles=true", "read-only"),
    ("select * from text.`/etc/hostname`", ""),
    ("select reflect('java.lang.System', 'getProperty', 'user.home')", "reflect"),
    ("select 1; select 2", "one statement"),
])
def test_spark_query_is_read_only(staged, sql, fragment):
    spark = staged["spark"]
    saved = dict(os.environ)
    os.environ.update(staged["env"])
    try:
        with pytest.raises(Exception) as info:
            query_read_only("spark", spark.db_path, sql, spark.spark_dir)
        assert fragment in str(info.value)
        assert isinstance(info.value, QueryRefused) or "text" in sql
        frame = query_read_only("spark", spark.db_path, "select count(*) as n from audit_sources", spark.spark_dir)
        assert int(frame["n"][0]) == len(staged["rows"])
    finally:
        os.environ.clear()
        os.environ.update(saved)
