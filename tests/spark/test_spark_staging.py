"""The staging layer on Spark (dbt-spark, method session) gives the same line
statuses as on DuckDB: audit_reconciliation and audit_quarantine compared row
for row on a small raw fixture with every kind of bad line.

Needs Java and the `spark` extra (`pip install -e .[spark]`, a separate venv);
skipped otherwise. Slow: a cold local Spark builds the staging layer in ~2-3 min.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.slow]

pyspark = pytest.importorskip("pyspark")
pytest.importorskip("dbt.adapters.spark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("java not found", allow_module_level=True)

from quant_safety import manifest  # noqa: E402
from quant_safety.config import Settings  # noqa: E402
from quant_safety.engine.dbt_runner import run_dbt  # noqa: E402
from quant_safety.engine.readers import open_reader  # noqa: E402
from quant_safety.layout import DEFAULT_SOURCES  # noqa: E402

BIG_SOURCE = "tr125_expansion_7b"   # > 10k lines, read in several Spark blocks
BIG_LINES = 12_000


def _write(path: Path, lines: list[str], newline: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(line + newline for line in lines).encode("utf-8"))


def write_fixture(raw: Path) -> None:
    """Two models x 3 samples per source, plus every kind of bad line."""
    for label, _role, kind, rel, _prec, _wave in DEFAULT_SOURCES:
        lines: list[str] = []
        models = ["phi-2-fp16", "phi-2-q4_K_M"] if kind == "A" else ["phi-2-fp16", "phi-2-q4_k_m"]
        if label == "tr125_phase2_legacy":
            models.append("llama3.1-8b-q4_K_M")              # model_out_of_scope
        for m in models:
            for i in range(3):
                if kind == "A":
                    lines.append(json.dumps({
                        "model": m, "model_name": m, "task_name": "summarization", "task_type": "summarization",
                        "sample_id": f"summ_00{i}", "metrics": {
                            "bertscore": {"score": 0.7 + i / 100}, "rouge_l": {"score": 0.3},
                            "coherence": {"score": float("nan") if i == 2 else 0.5}}}))
                elif kind == "B":
                    lines.append(json.dumps({
                        "sample_id": f"advbench_00{i}", "task_name": "advbench_refusal", "model": m,
                        "base_model": "phi-2", "quant": "FP16", "domain": "safety", "score": 1.0,
                        "metric": "refusal_rate", "detail": {"refusal_type": "hard", "confidence": 1.0},
                        "jailbreak_type": "", "behavior_category": "", "base_behavior_id": ""}))
                elif kind == "C":
                    lines.append(json.dumps({
                        "sample_id": f"advbench_00{i}", "task_name": "advbench_refusal", "model": m,
                        "base_model": "phi-2", "quant": "FP16", "judge_label": "FULL_REFUSAL",
                        "judge_raw_response": "FULL_REFUSAL", "judge_model": "gemma3:12b",
                        "judge_parse_success": True, "judge_elapsed_ms": 412.7}))
                else:
                    lines.append(json.dumps({
                        "model": m, "task_name": "advbench_refusal", "sample_id": f"advbench_00{i}",
                        "candidate": "I can't assist with that request.", "metrics": {}}))
        if label == "tr134_legacy_judge":
            lines.append(json.dumps({"model_name": "phi-2-q2_k", "task_name": "bbq_bias", "sample_id": "bbq_017",
                                     "judge_label": "UNBIASED", "judge_model": "q", "parse_success": True,
                                     "judge_elapsed_ms": 388.2139}))
        if label == "tr134_phase3_legacy":
            base = '"task_name": "advbench_refusal", "domain": "safety", "metric": "refusal_rate"'
            lines += [
                "not json", "",
                '{"sample_id": "advbench_009", "model": "phi-2-fp16", %s, "score": 1.7}' % base,
                '{"sample_id": "advbench_008", "model": "phi-2-fp16", %s, "score": "0.5"}' % base,
                '{"sample_id": "advbench_007", "model": null, %s, "score": 0.5}' % base,
                '{"sample_id": "advbench_006", "model": "gpt2-q4_k_m", %s, "score": NaN}' % base,
                '{"sample_id": "advbench_006", "model": "gpt2", %s, "score": 1}' % base,
                '{"sample_id": "advbench_001", "model": "phi-2-fp16", %s, "score": 0}' % base,
                '{"sample_id": "x", "task_name": "nope", "model": "phi-2-fp16", "score": 0}',
                '{"sample_id": "advbench_005", "model": "phi-2-fp16", %s, "score": 1} trailing' % base,
                '[1, 2]',
                '{"sample_id": "advbench_00',
            ]
        if label == BIG_SOURCE:
            for i in range(BIG_LINES):
                lines.append(json.dumps({
                    "model": "phi-2-q8_0", "task_name": "summarization", "task_type": "summarization",
                    "sample_id": f"big_{i:05d}", "metrics": {"bertscore": {"score": 0.5},
                                                            "rouge_l": 0.25, "coherence": {"score": 0.4}}}))
            # bad lines deep in the file: the quarantine names their exact line numbers
            lines[10_500] = "{broken"
            lines[11_000] = lines[10_999]                                  # duplicate_in_source
            lines[11_500] = json.dumps({"model": "phi-2-q8_0", "task_name": "summarization",
                                        "sample_id": "big_x", "metrics": {"bertscore": {"score": "0.5"}}})
            lines[11_600] = json.dumps({"model": "phi-2-q8_0", "task_name": "summarization",
                                        "sample_id": "big_y", "metrics": 5})
        _write(raw / rel, lines, newline="\r\n" if label == "v3_7b_gptq_quality" else "\n")


def build_staging(root: Path, raw: Path, manifest_dir: Path, target: str, spark_dbt_tests: bool = True) -> Settings:
    """Seeds and staging models of `raw` on `target`, with their dbt tests (on
    Spark only if spark_dbt_tests: the callers that compare the tables row for
    row with DuckDB's need not re-run the same tests' SQL there)."""
    cfg = Settings(raw_dir=raw, db_path=root / target / "warehouse.duckdb", manifest_dir=manifest_dir,
                   out_dir=root / target / "bundle", target=target)
    rows = manifest.read_manifest(cfg.manifest_path)
    cfg.work_dir.mkdir(parents=True, exist_ok=True)
    manifest.write_audit(manifest.audit_sources(cfg.raw_dir, rows), cfg.work_dir / "source_audit.csv")
    args = ["build", "--select", "+staging", "+audit", "--indirect-selection", "cautious"]
    if target == "spark" and not spark_dbt_tests:
        args += ["--resource-type", "seed", "--resource-type", "model"]
    run_dbt(cfg, cfg.db_path, args, quiet=True)
    return cfg


RECONCILIATION = ("select source_label, raw_lines, parsed_lines, loaded_rows, excluded_rows, quarantined_rows, "
                  "balanced from audit_reconciliation order by source_label")
QUARANTINE = ("select record_kind, source_label, relative_path, source_line, reason, detail "
              "from audit_quarantine order by source_label, source_line")


def read(cfg: Settings, sql: str) -> list[tuple]:
    with open_reader(cfg.target, cfg.db_path, cfg.spark_dir) as reader:
        return [tuple(None if v != v else v for v in row) for row in reader.rows(sql)]


def test_spark_staging_matches_duckdb(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    write_fixture(raw)
    manifest_dir = tmp_path / "manifest"
    rows, _notes = manifest.refresh_rows(raw, manifest.default_manifest_rows())
    manifest.write_manifest(rows, manifest_dir / "source_manifest.csv")

    monkeypatch.setenv("QSAFETY_SPARK_DIR", str(tmp_path / "spark"))
    monkeypatch.setenv("QSAFETY_SPARK_CORES", "2")
    monkeypatch.setenv("QSAFETY_SPARK_MAX_PARTITION_BYTES", "65536")   # the big file spans several blocks
    duck = build_staging(tmp_path, raw, manifest_dir, "duckdb")
    spark = build_staging(tmp_path, raw, manifest_dir, "spark")

    duck_rec, spark_rec = read(duck, RECONCILIATION), read(spark, RECONCILIATION)
    assert len(duck_rec) == len(DEFAULT_SOURCES)
    assert spark_rec == duck_rec
    assert all(r[-1] for r in spark_rec)

    duck_q, spark_q = read(duck, QUARANTINE), read(spark, QUARANTINE)
    assert spark_q == duck_q
    big = {(r[3], r[4]) for r in spark_q if r[1] == BIG_SOURCE}
    assert {(10_501, "invalid_json"), (11_000, "duplicate_in_source"),
            (11_501, "wrong_type"), (11_601, "missing_field")} <= big
