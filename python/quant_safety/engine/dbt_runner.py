"""Run dbt as a subprocess against one warehouse file, streaming progress."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from ..config import PROJECT_DIR, Settings
from ..errors import BuildError, InputError
from ..lockdir import dbt_seed_dir
from ..processes import child_command
from .dbt_steps import STEP_MARKER

SINGLE_THREAD_BLAS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
INPUT_ERROR_MARKER = "qsafety-input-error: "   # dbt_plugin.ERROR_MARKER (not imported: that module needs dbt)
_PROGRESS = re.compile(r"\d+ of \d+ (OK|START|PASS|FAIL|ERROR|WARN|SKIP)")


def dbt_env(cfg: Settings, db_file: Path, target_dir: str = "dbt_target", extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update({
        "QSAFETY_BUILD_DB": str(db_file),
        "QSAFETY_RAW_DIR": str(cfg.raw_dir),
        # the pre-flight audit staging reads (source_audit.csv, source_chunks.csv)
        "QSAFETY_AUDIT_DIR": str(cfg.work_dir),
        # a copy of the lock dir inside the project, as a relative seed path: dbt writes
        # each seed's SQL to <target>/run/<project>/<seed path>, which for the lock dir's
        # own path would land on the lockfile or outside the target dir (lockdir.py)
        "QSAFETY_MANIFEST_DIR": dbt_seed_dir(cfg.manifest_dir),
        # One target dir per database path: dbt's partial parse (partial_parse.msgpack) is
        # discarded when the profile changes, and the profile holds the database path, so
        # `lock` (scratch file) and `build` (<db>.building) keep separate target dirs.
        "DBT_TARGET_PATH": str(cfg.work_dir / target_dir),
        "DBT_LOG_PATH": str(cfg.work_dir / "dbt_logs"),
        "QSAFETY_TARGET": cfg.target,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    })
    env.setdefault("QSAFETY_DUCKDB_THREADS", str(os.cpu_count() or 2))
    # dbt's own log file (<build dir>/dbt_logs/dbt.log) at info level: the debug level
    # writes every SQL statement of every node (~4 MB, ~4 s of a demo build's CPU).
    # QSAFETY_DEBUG=1 (or DBT_LOG_LEVEL_FILE=debug) keeps the statements; the SQL of
    # every node is also in <build dir>/dbt_target/run/.
    env.setdefault("DBT_LOG_LEVEL_FILE", "debug" if os.environ.get("QSAFETY_DEBUG") else "info")
    # One BLAS thread for the statistics models: pingouin's ANCOVA factorisations
    # are faster single-threaded on a busy 2-core box, and their last bits
    # (p ~1e-11 relative at x100) otherwise depend on the machine's core count.
    for name, value in SINGLE_THREAD_BLAS.items():
        env.setdefault(name, value)
    # Fits of the statistics models cached by the hash of their input rows (stats/fit_cache.py)
    env.setdefault("QSAFETY_STATS_CACHE_DIR", str(cfg.work_dir / "stats_cache"))
    # Spark target (method session): warehouse dir + Derby metastore of this build.
    env.setdefault("QSAFETY_SPARK_DIR", str(cfg.spark_dir))
    env.update(extra or {})
    return env


def run_dbt(cfg: Settings, db_file: Path, args: list[str], dbt_vars: dict | None = None,
            quiet: bool = False, target_dir: str = "dbt_target", on_line=None,
            extra_env: dict | None = None, then: tuple[list[str], ...] = ()) -> list[str]:
    """Run `dbt <args>`; raise BuildError with the first failure line on failure.
    `on_line`: called with every output line (progress.Stage.dbt_line) instead of printing;
    `extra_env`: more environment for dbt (the statistics server's address);
    `then`: more dbt commands, run after `args` in the same dbt process on the same
    parse of the project (dbt_steps.py; its output has a dbt_steps.STEP_MARKER line
    before each command)."""
    from ..validate import check_dbt_vars

    common = ["--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
              "--vars", json.dumps(check_dbt_vars(dbt_vars))]
    if then:
        spec = {"common": ["--no-use-colors", *common], "steps": [list(args), *map(list, then)]}
        cmd = [sys.executable, "-m", "quant_safety.engine.dbt_steps", json.dumps(spec)]
    else:
        dbt = Path(sys.executable).with_name("dbt")
        cmd = [str(dbt) if dbt.exists() else "dbt", "--no-use-colors", *args, *common]
    _drop_foreign_partial_parse(cfg.work_dir / target_dir)
    start = time.monotonic()
    # dbt dies with this process (kill -9 of `qsafety build` leaves no dbt behind)
    proc = subprocess.Popen(child_command(cmd), cwd=PROJECT_DIR, env=dbt_env(cfg, db_file, target_dir, extra_env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip("\n")
        lines.append(line)
        if on_line is not None:
            on_line(line)
        elif not quiet and (_PROGRESS.search(line) or "Completed" in line or "Done." in line):
            print(f"  [{time.monotonic() - start:6.1f}s] {line.split(' ', 1)[-1].strip()}", flush=True)
    code = proc.wait()
    if code != 0:
        input_error = next(
            (line.split(INPUT_ERROR_MARKER, 1)[1].strip() for line in lines if INPUT_ERROR_MARKER in line), None
        )
        if input_error:   # a raw file that changed under the build (dbt_plugin.py): one line naming it
            raise InputError(input_error.rstrip("'\""))
        raise BuildError(f"dbt {failed_command(lines, args)} failed: {summarise_failure(lines)} "
                         f"(full log: {cfg.work_dir / 'dbt_logs' / 'dbt.log'})")
    return lines


def failed_command(lines: list[str], args: list[str]) -> str:
    """The dbt command that failed: the last one a step line announced (run_dbt's `then`), else `args`."""
    return next((line.split(STEP_MARKER, 1)[1].strip() for line in reversed(lines) if line.startswith(STEP_MARKER)),
                args[0])


def _drop_foreign_partial_parse(target: Path) -> None:
    """dbt's partial parse keeps absolute file paths (seeds are loaded from
    <project>/seeds/...) and does not notice when the same warehouse's target
    dir is used by a checkout in another directory: it would load seeds from the
    other checkout, or fail when it is gone. The target dir records the project
    it was parsed for; on a mismatch the saved parse is dropped."""
    stamp = target / ".qsafety_project_dir"
    here = str(PROJECT_DIR)
    if stamp.exists() and stamp.read_text() == here:
        return
    (target / "partial_parse.msgpack").unlink(missing_ok=True)
    target.mkdir(parents=True, exist_ok=True)
    stamp.write_text(here)


def summarise_failure(lines: list[str]) -> str:
    """The first dbt error or failing test, as one line."""
    stripped = [re.sub(r"^\d\d:\d\d:\d\d\s+", "", line).strip() for line in lines]
    for i, line in enumerate(stripped):
        if re.search(r"(Compilation|Runtime|Database|Parsing) Error", line) or line.startswith("Failure in test"):
            detail = [text for text in stripped[i + 1:i + 6] if text and not text.startswith(">")]
            return " ".join([line] + detail[:2])[:500]
    for line in stripped:
        if re.search(r"\b(ERROR|FAIL)\b", line) and "Completed with" not in line and "Done." not in line:
            return line[:500]
    return (stripped[-1] if stripped else "no output")[:500]
