"""The data-quality gate: the Great Expectations project gx/ run against a built warehouse.

GX 1.x cannot validate DuckDB through its SQL data source (docs/architecture.md), so
each suite's data asset is a summary frame computed in the warehouse (gx/summaries.yml:
one query per suite) and validated with GX's pandas file data source. One gate run:

1. deploys gx/ (suites, validation definitions, the checkpoint `qsafety_gate`) into the
   warehouse's build dir (`<build dir>/gx/`), whose `uncommitted/` keeps this
   warehouse's validation history across builds (pruned to the newest
   QSAFETY_GX_HISTORY runs, default 30);
2. writes each summary frame to `uncommitted/summaries/<suite>.parquet`, computes the
   expectation parameters (gx/summaries.yml `parameters`: values the data and the
   lockfile determine, e.g. the number of cells) and runs the checkpoint with a run id
   from the build (`<git commit>[-dirty]-<UTC time>`); the site of its update_data_docs
   action is rendered for the run's results, starting from a copy of the live one (so the
   index lists the earlier builds too);
3. makes the site open offline (gate/data_docs.py) and moves it to
   `<build dir>/data_docs/<run name>/`; `publish` points the live Data Docs path at it
   (atomically) - `qsafety build` does that right after it swaps the warehouse in.

Critical failures raise GateError with one line per failed expectation naming the
source file and the difference, and the path of the failed build's Data Docs.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..config import PROJECT_DIR
from ..engine.readers import open_reader
from ..errors import GateError
from . import data_docs

GX_DIR = PROJECT_DIR / "gx"
SUMMARIES = GX_DIR / "summaries.yml"
CHECKPOINT = "qsafety_gate"
SITE = "qsafety"
DEPLOYED = ("expectations", "validation_definitions", "checkpoints")
JUDGE_DEDUPE_MODES = ("precedence", "pool")


@dataclass
class GateResult:
    success: bool
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data_docs_index: Path | None = None      # the published index, or the unpublished site's
    site_dir: Path | None = None             # this run's Data Docs site (<build dir>/data_docs/<run name>)
    suites_run: int = 0
    expectations_run: int = 0
    run_name: str | None = None
    history_runs: int = 0                    # runs of this warehouse in the validation store


def build_run_name(now: _dt.datetime | None = None) -> str:
    """`<12-hex commit>[-dirty]-<YYYYmmddTHHMMSSZ>` of the checkout the build runs from."""
    from ..bundle.run_manifest import git_state

    now = now or _dt.datetime.now(_dt.timezone.utc)
    git = git_state()
    commit = (git.get("commit") or "nogit")[:12] + ("-dirty" if git.get("dirty") else "")
    return f"{commit}-{now.strftime('%Y%m%dT%H%M%S')}Z"


def deploy_project(work_dir: Path) -> Path:
    """Copy gx/'s definitions into `<work_dir>/gx` (its uncommitted/ kept) with the
    summaries data source pointed at that copy's uncommitted/summaries; returns it."""
    root = Path(work_dir) / "gx"
    (root / "uncommitted" / "summaries").mkdir(parents=True, exist_ok=True)
    for sub in DEPLOYED:
        shutil.rmtree(root / sub, ignore_errors=True)
        shutil.copytree(GX_DIR / sub, root / sub)
    config = yaml.safe_load((GX_DIR / "great_expectations.yml").read_text(encoding="utf-8"))
    config["fluent_datasources"]["warehouse_summaries"]["base_directory"] = str(root / "uncommitted" / "summaries")
    config["progress_bars"] = {"globally": False, "metric_calculations": False}
    text = ("# Deployed copy of the repository's gx/great_expectations.yml for this warehouse (written by\n"
            f"# the gate on every build; edit {GX_DIR / 'great_expectations.yml'} instead).\n")
    (root / "great_expectations.yml").write_text(text + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return root


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


def run_gate(db_path: Path, data_docs_dir: Path | None, dbt_vars: dict | None = None,
             work_dir: Path | None = None, raise_on_failure: bool = True,
             target: str = "duckdb", spark_dir: Path | None = None, run_name: str | None = None,
             publish: bool = True) -> GateResult:
    """Validate the warehouse at db_path. `data_docs_dir`: the live Data Docs path
    (None: no Data Docs); with `publish` the new site is swapped in there when the gate
    passes, else the caller publishes `result.site_dir` (gate.publish_data_docs)."""
    gx, _ = import_libraries()
    from great_expectations.core.run_identifier import RunIdentifier

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    spec = yaml.safe_load(SUMMARIES.read_text(encoding="utf-8"))
    variables = {"judge_dedupe_mode": "precedence", **(dbt_vars or {})}
    if variables["judge_dedupe_mode"] not in JUDGE_DEDUPE_MODES:
        raise GateError(f"dbt var judge_dedupe_mode={variables['judge_dedupe_mode']!r}: "
                        f"expected one of {', '.join(JUDGE_DEDUPE_MODES)}")
    work_dir = Path(work_dir) if work_dir else Path(db_path).parent / f".{Path(db_path).stem}.build"
    now = _dt.datetime.now(_dt.timezone.utc)
    run_name = run_name or build_run_name(now)

    frames, parameters = {}, {}
    with open_reader(target, db_path, spark_dir) as con:
        tables = con.tables()
        variables.setdefault("columns_relation", con.columns_relation())
        for item in spec["validations"]:
            needed = item.get("requires")
            if needed and needed not in tables:
                continue
            frames[item["suite"]] = con.df(item["query"].format(**variables))
        for name, sql in (spec.get("parameters") or {}).items():
            value = con.rows(sql)[0][0]
            parameters[name] = int(value) if value is not None else None

    root = deploy_project(work_dir)
    summaries = root / "uncommitted" / "summaries"
    for old in summaries.glob("*.parquet"):
        old.unlink()
    for name, frame in frames.items():
        frame.to_parquet(summaries / f"{name}.parquet", index=False)
    history = int(os.environ.get("QSAFETY_GX_HISTORY", "30"))
    _prune_history(root, keep=max(history - 1, 0))

    staging = root / "uncommitted" / "data_docs" / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    live = Path(data_docs_dir) if data_docs_dir is not None else None
    if live is not None and (live / "index.html").exists():
        shutil.copytree(live.resolve(), staging, symlinks=False)   # earlier builds' pages stay linked
        _drop_pruned_pages(root, staging)

    context = gx.get_context(mode="file", project_root_dir=str(work_dir))
    checkpoint = context.checkpoints.get(CHECKPOINT)
    # The deployed copy's checkpoint is narrowed for this run (deploy_project restores it
    # from gx/ next time): to the suites whose table exists (a partial build), and without
    # its update_data_docs action, which GX runs once per validation result, re-rendering
    # the whole index each time (9 index renders a build, ~20 s on 2 busy cores); the gate
    # renders the action's sites once for all of this run's results instead (_update_data_docs).
    docs_sites = [site for action in checkpoint.actions if action.type == "update_data_docs"
                  for site in (action.site_names or [SITE])]
    present = [vd for vd in checkpoint.validation_definitions if vd.name in frames]
    if len(present) != len(checkpoint.validation_definitions) or docs_sites:
        checkpoint.validation_definitions = present
        checkpoint.actions = [action for action in checkpoint.actions if action.type != "update_data_docs"]
        checkpoint.save()
    outcome = checkpoint.run(expectation_parameters=parameters,
                             run_id=RunIdentifier(run_name=run_name, run_time=now))

    if live is not None and docs_sites:
        _update_data_docs(context, outcome, sorted(set(docs_sites)))
    result = GateResult(success=True, suites_run=len(outcome.run_results), run_name=run_name)
    for validation in outcome.run_results.values():
        name = validation.suite_name
        for r in validation.results:
            result.expectations_run += 1
            if r.success:
                continue
            message = _describe(name, frames[name], r)
            if str(getattr(r.expectation_config, "severity", "critical")).lower().endswith("critical"):
                result.failures.append(message)
            else:
                result.warnings.append(message)
    result.history_runs = len(_runs_in_store(root))
    result.success = not result.failures
    if live is not None and (staging / "index.html").exists():
        data_docs.make_offline(staging)
        sites = work_dir / "data_docs"
        sites.mkdir(parents=True, exist_ok=True)
        site = sites / run_name
        suffix = 1
        while site.exists():
            suffix += 1
            site = sites / f"{run_name}.{suffix}"
        os.replace(staging, site)
        result.site_dir = site
        result.data_docs_index = site / "index.html"
        if publish and result.success:
            result.data_docs_index = publish_data_docs(result, live)
    if raise_on_failure and result.failures:
        where = f" (Data Docs of this build: {result.data_docs_index})" if result.data_docs_index else ""
        raise GateError("data-quality gate failed: " + " | ".join(result.failures) + where)
    return result


def _update_data_docs(context, outcome, sites: list[str]) -> None:
    """The checkpoint's update_data_docs action for all of this run's results at once.
    GX 1.x's validation page reads the data asset's name from the batch spec, which a file
    asset does not fill ('Data asset: None'): it is written into the stored results first
    (from the batch definition they record)."""
    store = context.validation_results_store
    for key in outcome.run_results:
        stored = store.get(key)
        asset = (stored.meta.get("active_batch_definition") or {}).get("data_asset_name")
        if asset and isinstance(stored.meta.get("batch_spec"), dict):
            stored.meta["batch_spec"]["data_asset_name"] = asset
            store.set(key, stored)
    context.build_data_docs(site_names=sites, resource_identifiers=list(outcome.run_results), build_index=True)


def publish_data_docs(result: GateResult, live: Path) -> Path | None:
    """Swap the gate run's Data Docs site in at `live` (atomic); returns the live index."""
    if result.site_dir is None:
        return None
    index = data_docs.publish(result.site_dir, live)
    result.data_docs_index = index
    return index


def _runs_in_store(root: Path) -> list[tuple[str, str]]:
    """(run time, run name) of the runs in the validation store, oldest first. Store keys
    are uncommitted/validations/<suite>/<run name>/<run time>/<batch id>.json."""
    store = root / "uncommitted" / "validations"
    runs = set()
    for path in store.glob("*/*/*/*.json"):
        runs.add((path.parent.name, path.parent.parent.name))
    return sorted(runs)


def _prune_history(root: Path, keep: int) -> None:
    """Keep the newest `keep` runs of the validation store (the current run comes on top)."""
    runs = _runs_in_store(root)
    drop = runs[:max(len(runs) - keep, 0)]
    store = root / "uncommitted" / "validations"
    for run_time, run_name in drop:
        for path in store.glob(f"*/{run_name}/{run_time}"):
            shutil.rmtree(path, ignore_errors=True)
    for empty in sorted(store.glob("*/*"), reverse=True):
        if empty.is_dir() and not any(empty.iterdir()):
            empty.rmdir()


def _drop_pruned_pages(root: Path, site: Path) -> None:
    """Remove the copied site's validation pages of runs no longer in the store."""
    kept = {name for _, name in _runs_in_store(root)}
    for run_dir in site.glob("validations/*/*"):
        if run_dir.is_dir() and run_dir.name not in kept:
            shutil.rmtree(run_dir, ignore_errors=True)
