"""The run manifest of a bundle (run_manifest.json): the inputs the warehouse
was built from, package versions, the dbt vars in effect and the git state."""
from __future__ import annotations

import json
import subprocess

from ..config import PROJECT_DIR, Settings

PACKAGES = ["quant-safety-warehouse", "dbt-core", "dbt-duckdb", "duckdb", "pandas", "numpy", "scipy",
            "statsmodels", "pingouin", "matplotlib", "great_expectations", "pyarrow"]


def package_versions() -> dict:
    from importlib import metadata

    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state() -> dict:
    def git(*args):
        try:
            proc = subprocess.run(["git", "-C", str(PROJECT_DIR), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def dbt_vars_in_effect(cfg: Settings, overrides: dict | None = None) -> dict:
    """The project's dbt vars (dbt_project.yml) with the build's overrides applied.

    Overrides come from the caller (`qsafety build --export --var k=v`) or, for a
    standalone export, from the last dbt invocation recorded in the warehouse's
    build dir (run_results.json args.vars)."""
    import yaml

    with open(PROJECT_DIR / "dbt_project.yml", encoding="utf-8") as handle:
        project = yaml.safe_load(handle)
    values = dict(project.get("vars") or {})
    values["raw_dir"] = str(cfg.raw_dir)
    recorded = {}
    results = cfg.work_dir / "dbt_target" / "run_results.json"
    if overrides is None and results.exists():
        try:
            args = json.loads(results.read_text(encoding="utf-8")).get("args", {})
            raw_vars = args.get("vars") or {}
            recorded = json.loads(raw_vars) if isinstance(raw_vars, str) else dict(raw_vars)
        except (ValueError, AttributeError):
            recorded = {}
    for key, value in {**recorded, **(overrides or {})}.items():
        if key == "source_audit_file":
            continue  # a path of the build work dir, not an analysis setting
        values[key] = value
    return values


def input_inventory(con) -> list[dict]:
    rows = con.execute("""
        select a.source_label, a.role, a.record_kind, a.relative_path, a.actual_sha256, a.expected_sha256,
               a.sha256_matches, a.actual_raw_lines, a.size_bytes, r.loaded_rows, r.excluded_rows,
               r.quarantined_rows, r.balanced, a.release_wave, a.precedence
        from audit_sources as a
        left join audit_reconciliation as r using (source_label)
        order by a.source_label""").fetchall()
    keys = ["label", "role", "record_kind", "relative_path", "sha256", "expected_sha256", "sha256_matches",
            "raw_rows", "size_bytes", "loaded_rows", "excluded_rows", "quarantined_rows", "balanced",
            "release_wave", "precedence"]
    return [dict(zip(keys, (int(v) if isinstance(v, int) else v for v in row))) for row in rows]


def recorded_fingerprint(con, present: set) -> dict | None:
    """The build's input fingerprint (uptodate.py) as recorded in the warehouse, or None."""
    if "build_fingerprint" not in present:
        return None
    # fetchall: a fetchone() left on a streaming result blocks the next query on this
    # connection (the report reads the same one)
    rows = con.execute("select fingerprint, built_at_utc, components from build_fingerprint limit 1").fetchall()
    if not rows:
        return None
    row = rows[0]
    return {"fingerprint": row[0], "built_at_utc": str(row[1]), "components": json.loads(row[2])}


DEMO_NOTE = ("The demo raw data is SYNTHETIC, calibrated to the published cell values; "
             "it is not the original evaluation samples.")


def run_manifest(cfg: Settings, inputs: list[dict], fingerprint: dict | None, outputs: dict, missing: list[str],
                 float_format: str, dbt_vars: dict | None = None) -> dict:
    """The content of run_manifest.json (byte-stable: no wall-clock time)."""
    from ..demo.fingerprint import is_demo_data

    return {
        "bundle": "quant-safety analysis bundle (TR142 v3 Appendix E.1 layout)",
        "data_note": DEMO_NOTE if is_demo_data(inputs, cfg.raw_dir) else None,
        "warehouse": str(cfg.db_path),
        "raw_dir": str(cfg.raw_dir),
        "manifest": str(cfg.manifest_path),
        "inputs": inputs,
        "build_fingerprint": fingerprint,
        "outputs": outputs,
        "missing_tables": missing,
        "float_format": float_format,
        "packages": package_versions(),
        "dbt_vars": dbt_vars_in_effect(cfg, dbt_vars),
        "git": git_state(),
    }
