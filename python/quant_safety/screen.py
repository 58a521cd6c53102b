"""`qsafety screen --raw DIR`: can I ship this new quantized build?

DIR holds the raw logs of new quantized variants (kinds A/B/C/D, e.g. the
output of `quant_safety.demo.generate_variant(DIR, 'phi-2', 'AWQ')`) of models
whose baseline cell is already in the warehouse (or also in DIR). The screen

1. copies the current warehouse file to a scratch directory (the real warehouse
   and its build dir are never written);
2. builds a scratch raw dir of symlinks (every entry of the current raw dir plus
   DIR as `screen_input/`) and a scratch manifest = the current lockfile + one row
   per new file (kind sniffed from its records, hashed and counted);
3. runs `dbt build` of the cell marts into the scratch file - incremental staging
   skips every file already ingested, so only the new files are read;
4. prints, for every cell that is not in the current warehouse: deltas vs the
   baseline, regime, failure-mode tags, deployment action and a one-line verdict.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import manifest
from .config import Settings, settings
from .errors import InputError, QSafetyError
from .layout import ROLE_OF_KIND

SCREEN_SUBDIR = "screen_input"
SELECT = "+matrix +phase6_refusal_style"
VERDICTS = {
    "reference": "BASELINE - reference cell, nothing to decide",
    "reject": "DO NOT SHIP",
    "reject_severe_drift": "DO NOT SHIP",
    "manual_review": "HOLD - manual review before shipping",
    "direct_safety_eval": "NOT YET - run a direct (judge-backed) safety evaluation first",
    "conservative_floor_candidate": "SHIP CANDIDATE - bounded drift (per-model review still advised)",
}


@dataclass
class ScreenResult:
    cells: list[dict] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    added_files: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)


def _first_models(path: Path, limit: int = 200) -> set[str]:
    names = set()
    with open(path, encoding="utf-8", errors="replace") as handle:
        for _, line in zip(range(limit), handle):
            try:
                rec = json.loads(line.replace("NaN", "null"))
            except ValueError:
                continue
            if isinstance(rec, dict):
                name = rec.get("model") or rec.get("model_name")
                if isinstance(name, str):
                    names.add(name.lower())
    return names


def _existing_cells(con) -> tuple[set, dict]:
    cells = {tuple(r) for r in con.execute("select base_model, quant from matrix").fetchall()}
    names = {r[0].lower(): (r[1], r[2]) for r in con.execute(
        "select raw_model_name, base_model, quant from stg_registry__model_names where base_model is not null"
    ).fetchall() if r[0]}
    return cells, names


def _scratch_manifest_rows(cfg: Settings, raw: Path, new_dir: Path, existing: set, names: dict,
                           result: ScreenResult) -> list[dict]:
    rows = manifest.read_manifest(cfg.manifest_path)
    listed = {r["relative_path"] for r in rows}
    next_wave = max([int(r["release_wave"]) for r in rows] or [0]) + 1
    next_precedence = max([int(r["precedence"]) for r in rows] or [0]) + 1
    for path in sorted(new_dir.rglob("*.jsonl")):
        rel = f"{SCREEN_SUBDIR}/{path.relative_to(new_dir).as_posix()}"
        if rel in listed:
            continue
        kind = manifest.sniff_kind(path)
        if kind is None:
            result.skipped_files.append(f"{rel}: no record kind recognised")
            continue
        models = _first_models(path)
        mapped = {names.get(m) for m in models}
        if models and None not in mapped and mapped <= existing:
            cells = ", ".join(sorted(f"{b} {q}" for b, q in mapped))
            result.skipped_files.append(f"{rel}: cell(s) {cells} already in the warehouse (kept from there)")
            continue
        sha, lines, _ = manifest.hash_and_count(path)
        rows.append({"source_label": manifest.label_for(rel), "role": ROLE_OF_KIND[kind], "record_kind": kind,
                     "relative_path": rel, "expected_raw_rows": lines, "expected_loaded_rows": "",
                     "sha256": sha, "precedence": next_precedence if kind == "C" else 1,
                     "release_wave": next_wave})
        result.added_files.append(f"{rel} (kind {kind}, {lines} rows)")
    return rows


def screen(raw: Path | str, cfg: Settings | None = None, keep_dir: Path | None = None,
           quiet: bool = True, progress=None) -> ScreenResult:
    """Build a scratch warehouse with the files of `raw` added; return the new cells' verdicts."""
    import duckdb

    from .build import preflight
    from .dbt_runner import run_dbt

    cfg = cfg or settings()
    if cfg.target != "duckdb":
        raise QSafetyError(f"qsafety screen builds a scratch copy of the DuckDB warehouse file; it does not run on "
                           f"the {cfg.target} target (use QSAFETY_TARGET=duckdb)")
    new_dir = Path(raw).resolve()
    if not new_dir.is_dir():
        raise InputError(f"{new_dir}: not a directory")
    if not cfg.db_path.exists():
        raise QSafetyError(f"{cfg.db_path}: warehouse not found (run `qsafety build` first)")
    result = ScreenResult()
    start = time.monotonic()
    tmp_ctx = tempfile.TemporaryDirectory(prefix="qsafety_screen_") if keep_dir is None else None
    root = Path(tmp_ctx.name) if tmp_ctx else Path(keep_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        scratch = Settings(raw_dir=root / "raw", db_path=root / "screen.duckdb", manifest_dir=root / "manifest",
                           out_dir=root / "bundle", target="duckdb")
        scratch.raw_dir.mkdir(exist_ok=True)
        for entry in sorted(cfg.raw_dir.iterdir()):
            if entry.name != SCREEN_SUBDIR:
                (scratch.raw_dir / entry.name).symlink_to(entry.resolve())
        (scratch.raw_dir / SCREEN_SUBDIR).symlink_to(new_dir)
        shutil.copy2(cfg.db_path, scratch.db_path)
        with duckdb.connect(str(scratch.db_path), read_only=True) as con:
            existing, names = _existing_cells(con)
        rows = _scratch_manifest_rows(cfg, scratch.raw_dir, new_dir, existing, names, result)
        if not result.added_files:
            raise InputError(f"{new_dir}: no new .jsonl file to screen"
                             + (f" ({'; '.join(result.skipped_files)})" if result.skipped_files else ""))
        manifest.write_manifest(rows, scratch.manifest_path)
        preflight(scratch)  # hashes/counts every listed file, writes the scratch source_audit.csv
        result.timings["prepare_s"] = round(time.monotonic() - start, 1)
        t0 = time.monotonic()
        if progress is None:
            run_dbt(scratch, scratch.db_path, ["build", "--select", *SELECT.split()], quiet=quiet)
        else:   # quant_safety.progress.Progress: one live stage line
            with progress.stage("dbt build of the new cells (scratch copy)") as stage:
                run_dbt(scratch, scratch.db_path, ["build", "--select", *SELECT.split()], on_line=stage.dbt_line)
        result.timings["dbt_build_s"] = round(time.monotonic() - t0, 1)
        with duckdb.connect(str(scratch.db_path), read_only=True) as con:
            result.cells = _new_cells(con, existing)
    finally:
        if tmp_ctx:
            tmp_ctx.cleanup()
    result.timings["total_s"] = round(time.monotonic() - start, 1)
    return result


def _new_cells(con, existing: set) -> list[dict]:
    frame = con.execute("""
        select m.base_model, m.quant, m.format, m.baseline_quant, m.has_baseline_cell,
               m.quality_bertscore_delta_pp, m.quality_rouge_l_delta_pp, m.quality_coherence_delta_pp,
               m.safety_refusal_rate_delta_pp, m.judge_refusal_rate_delta_pp,
               m.safety_truthfulness_delta_pp, m.safety_bias_resistance_delta_pp,
               m.regex_judge_refusal_gap_pp, r.regime, r.quality_axis, r.quality_axis_delta_pp,
               a.deployment_action, a.decision_reason,
               s.dominant_prefix_share_delta, s.unique_prefix_rate_delta, s.mean_tokens_refusal_delta,
               s.template_destabilization, s.verbosity_shift
        from matrix m
        join regimes r using (base_model, quant)
        join phase5_row_actions a using (base_model, quant)
        left join phase6_refusal_style s using (base_model, quant)
        order by m.base_model, m.quant_order""").df()
    tags = {}
    for base, quant, tax, mode in con.execute(
            "select base_model, quant, tax_id, failure_mode from phase5_row_taxonomy order by tax_id").fetchall():
        tags.setdefault((base, quant), []).append(f"{tax} {mode}")
    cells = []
    for row in frame.to_dict("records"):
        key = (row["base_model"], row["quant"])
        if key in existing:
            continue
        row["taxonomy"] = tags.get(key, [])
        action = row["deployment_action"]
        row["verdict"] = VERDICTS.get(action, action)
        cells.append(row)
    return cells


def _fmt(v, spec="+.2f"):
    try:
        if v is None or v != v:
            return "n/a"
        return format(v, spec)
    except (TypeError, ValueError):
        return str(v)


def render(result: ScreenResult) -> str:
    lines = []
    if result.added_files:
        lines.append("screened files: " + "; ".join(result.added_files))
    for note in result.skipped_files:
        lines.append(f"skipped: {note}")
    if not result.cells:
        lines.append("no new cell was found in the screened files (were they all already in the warehouse?)")
        return "\n".join(lines)
    header = ["model", "quant", "vs", "dBERTScore", "dRefusal(regex)", "dRefusal(judge)", "gap(j-r)", "dTruth",
              "dBias", "regime", "action"]
    table = [header]
    for c in result.cells:
        table.append([c["base_model"], c["quant"], c["baseline_quant"], _fmt(c["quality_bertscore_delta_pp"]),
                      _fmt(c["safety_refusal_rate_delta_pp"]), _fmt(c["judge_refusal_rate_delta_pp"]),
                      _fmt(c["regex_judge_refusal_gap_pp"]), _fmt(c["safety_truthfulness_delta_pp"]),
                      _fmt(c["safety_bias_resistance_delta_pp"]), c["regime"], c["deployment_action"]])
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    lines.append("deltas in pp vs the model's baseline cell")
    for k, r in enumerate(table):
        lines.append("  ".join(str(v).rjust(w) if 3 <= i <= 8 else str(v).ljust(w) for i, (v, w) in enumerate(zip(r, widths))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    for c in result.cells:
        style = ""
        if c.get("dominant_prefix_share_delta") is not None and c["dominant_prefix_share_delta"] == c["dominant_prefix_share_delta"]:
            style = (f"; refusal style: dominant-prefix {_fmt(100 * c['dominant_prefix_share_delta'])}pp, "
                     f"unique-prefix {_fmt(100 * c['unique_prefix_rate_delta'])}pp, "
                     f"mean tokens {_fmt(c['mean_tokens_refusal_delta'], '+.1f')}")
        tags = ", ".join(c["taxonomy"]) if c["taxonomy"] else "none"
        lines.append(f"{c['base_model']} {c['quant']}: taxonomy [{tags}]{style}")
        lines.append(f"  verdict: {c['verdict']} ({c['deployment_action']}: {c['decision_reason']})")
    return "\n".join(lines)
