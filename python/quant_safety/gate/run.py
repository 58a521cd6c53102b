"""Run the Great Expectations suites of `expectations/` against a warehouse file.

GX 1.x cannot validate DuckDB through its SQL datasource (DESIGN.md), so each
validation runs a SQL query in DuckDB that returns a small summary frame and
validates that frame with GX's pandas datasource. Data Docs (HTML) are written
to the directory given. Critical failures raise GateError with one line per
failed expectation naming the source file and the difference.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..warehouse_reader import open_reader
import yaml

from ..config import PROJECT_DIR
from ..errors import GateError

EXPECTATIONS_DIR = PROJECT_DIR / "expectations"


@dataclass
class GateResult:
    success: bool
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data_docs_index: Path | None = None
    suites_run: int = 0
    expectations_run: int = 0


def _describe(validation: str, frame, result) -> str:
    cfg = result.expectation_config
    kwargs = {k: v for k, v in cfg.kwargs.items() if k not in ("batch_id",)}
    why = (cfg.meta or {}).get("why", cfg.type)
    detail = result.result or {}
    unexpected = detail.get("partial_unexpected_list") or detail.get("unexpected_list") or []
    where = ""
    column, other = kwargs.get("column") or kwargs.get("column_A"), kwargs.get("column_B")
    ident = [c for c in ("relative_path", "base_model", "quant", "task_name", "column_ref") if c in frame.columns]
    if ident and column in frame.columns and (unexpected or other):
        if other in frame.columns:
            rows = frame.dropna(subset=[column, other])
            rows = rows[rows[column].astype("string") != rows[other].astype("string")]
        else:
            flat = [u for u in unexpected if not isinstance(u, (list, tuple))]
            rows = frame[frame[column].isin(flat)]
        shown = ["/".join(str(r[c]) for c in ident) + f" ({column}={r[column]!r}"
                 + (f", expected {r[other]!r}" if other in frame.columns else "") + ")"
                 for _, r in rows.head(5).iterrows()]
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        where = "; ".join(shown) + more
    elif unexpected:
        where = "unexpected values: " + ", ".join(map(str, unexpected[:5]))
    observed = detail.get("observed_value")
    if not where and observed is not None:
        where = f"observed {observed}"
    return f"[{validation}] {why}: {where or 'failed'}"


def import_libraries():
    """Great Expectations, imported on first use (~2-3 s): `build` calls this in a
    background thread while dbt runs, so the gate finds it loaded."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    return gx, ProgressBarsConfig


def run_gate(db_path: Path, data_docs_dir: Path, dbt_vars: dict | None = None,
             work_dir: Path | None = None, raise_on_failure: bool = True,
             target: str = "duckdb", spark_dir: Path | None = None) -> GateResult:
    gx, ProgressBarsConfig = import_libraries()

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    spec = yaml.safe_load((EXPECTATIONS_DIR / "checkpoint.yml").read_text())
    variables = {"judge_dedupe_mode": "precedence", **(dbt_vars or {})}

    frames = {}
    with open_reader(target, db_path, spark_dir) as con:
        tables = con.tables()
        # information_schema.columns on DuckDB; Spark has none (the reader registers a view)
        variables.setdefault("columns_relation", con.columns_relation())
        for item in spec["validations"]:
            needed = item.get("requires")
            if needed and needed not in tables:
                continue
            frames[item["suite"]] = con.df(item["query"].format(**variables))

    root = Path(tempfile.mkdtemp(prefix="qsafety_gx_", dir=work_dir))
    try:
        context = gx.get_context(mode="file", project_root_dir=str(root))
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        context.variables.save()
        docs_dir = Path(data_docs_dir)
        if docs_dir.exists():
            shutil.rmtree(docs_dir)
        context.add_data_docs_site(site_name="qsafety", site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
        source = context.data_sources.add_pandas("warehouse")
        definitions = []
        for name in frames:
            suite_json = json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text())
            suite = context.suites.add(gx.ExpectationSuite(name=name))
            for exp in suite_json["expectations"]:
                cls = _expectation_class(gx, exp["type"])
                suite.add_expectation(cls(**exp["kwargs"], meta=exp.get("meta"),
                                          severity=exp.get("severity", "critical")))
            batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
            definitions.append((name, context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=suite))))
        result = GateResult(success=True, suites_run=len(definitions))
        for name, definition in definitions:
            outcome = definition.run(batch_parameters={"dataframe": frames[name]}, result_format="SUMMARY")
            for r in outcome.results:
                result.expectations_run += 1
                if r.success:
                    continue
                message = _describe(name, frames[name], r)
                if str(getattr(r.expectation_config, "severity", "critical")).lower().endswith("critical"):
                    result.failures.append(message)
                else:
                    result.warnings.append(message)
        context.build_data_docs(site_names=["qsafety"])
        index = Path(data_docs_dir) / "index.html"
        result.data_docs_index = index if index.exists() else None
        result.success = not result.failures
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if raise_on_failure and result.failures:
        raise GateError("data-quality gate failed: " + " | ".join(result.failures))
    return result


def _expectation_class(gx, type_name: str):
    camel = "".join(part.capitalize() for part in type_name.split("_"))
    try:
        return getattr(gx.expectations, camel)
    except AttributeError as exc:
        raise GateError(f"expectations/: unknown expectation type {type_name}") from exc
