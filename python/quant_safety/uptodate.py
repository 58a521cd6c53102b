"""Is the warehouse up to date? The build fingerprint, and the check `qsafety build` makes first.

A build's fingerprint is a sha256 over everything that decides what the
warehouse holds:

  raw          every manifest file's label, relative path, sha256, line count and
               size (the pre-flight audit: the stat cache's hash of a file unchanged
               since it was last hashed, else a fresh hash); not the raw dir's location:
               the warehouse records relative paths only, so the same bytes elsewhere
               build the same warehouse
  lockdir      the bytes of the lock dir's source_manifest.csv and registry additions
  project      the bytes of every file of the dbt project (dbt_project.yml,
               profiles.yml, models/, macros/, tests_dbt/, seeds/reference/, the gx/
               project without gx/uncommitted) and of the Python package that runs
               inside the build (python/quant_safety/**.py: the statistics, the gate)
  vars         the checked `--var` overrides (their defaults are in dbt_project.yml)
  packages     name and version of every installed distribution (its metadata
               directory's name), and the Python version
  environment  the dbt target and the settings that change what is written
               (QSAFETY_DUCKDB_STORAGE_VERSION, QSAFETY_GX_HISTORY); threads, memory
               limit, load-chunk size and stats workers change speed, not content,
               and are left out

A successful full build (build.py) records it in the warehouse, table
`build_fingerprint` (one row: the fingerprint, the per-component hashes and the
per-file detail as JSON), and the export copies it into run_manifest.json. A
copy in the build dir (`build_fingerprint.json`, with the warehouse file's stat
at the swap) spares the check the duckdb import while the file is untouched.
`qsafety build` first computes the fingerprint of its inputs while holding the
build lock (buildlock.py), and when it equals the one the warehouse records, it
says "warehouse up to date" and exits 0 without starting dbt; `--force` (and
`--full-refresh`) skip the check.

The trade-off of the stat cache. The raw component uses the pre-flight's stat
cache (manifest.audit_sources): a file whose device, inode, size, mtime and
ctime equal those recorded when it was last hashed is trusted to have the
recorded hash and is not re-read. Rewriting a file in place with the same size
and its mtime set back still moves its ctime (the kernel sets it on every write
and no system call sets it back), so that rewrite is noticed and the file is
re-hashed. What the cache cannot see is a change that bypasses the kernel's
inode bookkeeping: bytes written to the block device underneath, a file system
that does not keep a ctime, the system clock set back across the write.
`qsafety build --rehash` re-reads every byte (and then compares hashes, so a
rebuild only follows a real change). This module imports nothing heavy (no dbt,
no Great Expectations, duckdb only to read the recorded row): the check of an
unchanged ×10 warehouse takes well under a second.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import PROJECT_DIR, Settings
from .hashing import sha256_bytes, sha256_file

TABLE = "build_fingerprint"
VERSION = 1
# project paths whose bytes decide what the build writes (relative to the project)
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml")
PROJECT_TREES = ("models", "macros", "tests_dbt", "seeds/reference", "analyses", "snapshots", "gx",
                 "python/quant_safety")
SKIP_DIRS = {"__pycache__", "uncommitted", ".ipynb_checkpoints"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".tmp")
OUTPUT_ENV = ("QSAFETY_DUCKDB_STORAGE_VERSION", "QSAFETY_GX_HISTORY")


@dataclass
class Fingerprint:
    digest: str
    components: dict                       # name -> sha256 of its detail
    detail: dict = field(default_factory=dict)   # name -> what was hashed (file -> sha256, var -> value)

    built_at_utc: str = ""

    def as_json(self) -> str:
        return json.dumps({"version": VERSION, "fingerprint": self.digest, "components": self.components,
                           "built_at_utc": self.built_at_utc, "detail": self.detail}, sort_keys=True, default=str)


def project_files(project_dir: Path = PROJECT_DIR) -> dict:
    """{relative path: sha256} of the project files a build depends on."""
    project_dir = Path(project_dir)
    out = {}
    for name in PROJECT_FILES:
        path = project_dir / name
        if path.is_file():
            out[name] = sha256_file(path)
    for tree in PROJECT_TREES:
        root = project_dir / tree
        for base, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
            for name in sorted(files):
                if name.endswith(SKIP_SUFFIXES) or name.startswith("."):
                    continue
                path = Path(base) / name
                if path.is_file():
                    out[path.relative_to(project_dir).as_posix()] = sha256_file(path)
    return out


def lockdir_files(lock_dir: Path) -> dict:
    from .lockdir import ADDITIONS, MANIFEST_FILE

    out = {}
    for name in (MANIFEST_FILE, *ADDITIONS):
        path = Path(lock_dir) / name
        out[name] = sha256_file(path) if path.is_file() else None
    return out


def package_versions() -> dict:
    """Every installed distribution as its `name-version` metadata directory name
    (`dbt_core-1.11.2.dist-info`), from a listing of the import path: what
    importlib.metadata would find, without parsing ~200 METADATA files (~1 s)."""
    out = {"python": sys.version.split()[0]}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                out.setdefault(name.rsplit(".", 1)[0].lower(), entry)
    return {k: (v if k == "python" else "") for k, v in sorted(out.items())}


def raw_files(audits) -> dict:
    """{source label: [relative path, sha256, raw lines, size]} from the pre-flight audit."""
    return {a.source_label: [a.relative_path, a.sha256, a.raw_lines, a.size_bytes]
            for a in sorted(audits, key=lambda a: a.source_label)}


def compute(cfg: Settings, dbt_vars: dict | None, audits, project_dir: Path = PROJECT_DIR) -> Fingerprint:
    """The fingerprint of a build of cfg with these (checked) var overrides over these audits."""
    detail = {
        "raw": {"files": raw_files(audits)},
        "lockdir": lockdir_files(cfg.manifest_dir),
        "project": project_files(project_dir),
        "vars": dict(sorted((dbt_vars or {}).items())),
        "packages": package_versions(),
        "environment": {"target": cfg.target, **{k: os.environ.get(k, "") for k in OUTPUT_ENV}},
    }
    components = {name: sha256_bytes(json.dumps(value, sort_keys=True, default=str).encode("utf-8"))
                  for name, value in detail.items()}
    digest = sha256_bytes(json.dumps(components, sort_keys=True).encode("utf-8"))
    return Fingerprint(digest, components, detail)


def record(con, fp: Fingerprint) -> None:
    """Write the fingerprint row into the warehouse being built (DuckDB connection)."""
    con.execute(f"create or replace table {TABLE} (fingerprint varchar, built_at_utc timestamp, "
                f"components varchar, inputs varchar)")
    fp.built_at_utc = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    con.execute(f"insert into {TABLE} values (?, ?::timestamp, ?, ?)",
                [fp.digest, fp.built_at_utc, json.dumps(fp.components, sort_keys=True), fp.as_json()])
    con.execute(f"comment on table {TABLE} is 'The fingerprint of the inputs of the last successful full build "
                f"(raw files, lock dir, project code and seeds, vars, package versions, target): qsafety build "
                f"skips a build whose inputs have this fingerprint (quant_safety.uptodate).'")


def drop(con) -> None:
    """A partial build (--select, no gate) is not a full build of its inputs: no fingerprint."""
    con.execute(f"drop table if exists {TABLE}")


def _sidecar(db_path: Path) -> Path:
    return db_path.parent / f".{db_path.stem}.build" / "build_fingerprint.json"


def _file_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def write_sidecar(db_path: Path, fp: Fingerprint) -> None:
    """After the swap: the fingerprint beside the warehouse, with the warehouse file's
    stat, so that the check need not import duckdb while the file is untouched."""
    _write_json(_sidecar(db_path), {"warehouse_stat": _file_key(db_path), "fingerprint": fp.digest,
                                    "components": fp.components, "inputs": json.loads(fp.as_json())})


def _write_json(path: Path, data: dict) -> None:
    """A JSON file of the build dir, replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def drop_sidecar(db_path: Path) -> None:
    _sidecar(db_path).unlink(missing_ok=True)


def recorded(db_path: Path) -> dict | None:
    """{fingerprint, built_at_utc, components, inputs, via} recorded in the warehouse, or None.
    The build dir's copy (`build_fingerprint.json`) is used while the warehouse file's
    device, inode, size, mtime and ctime are those it was swapped in with; else the
    warehouse's own row is read (duckdb, read-only)."""
    try:
        side = json.loads(_sidecar(db_path).read_text(encoding="utf-8"))
        if side.get("warehouse_stat") == _file_key(db_path) and side.get("fingerprint"):
            return {"fingerprint": side["fingerprint"], "built_at_utc": side["inputs"].get("built_at_utc", "?"),
                    "components": side["components"], "inputs": side["inputs"], "via": "sidecar"}
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        pass
    import duckdb

    try:
        with duckdb.connect(str(db_path), read_only=True) as con:
            row = con.execute(f"select fingerprint, built_at_utc, components, inputs from {TABLE} "
                              f"limit 1").fetchone()
    except duckdb.Error:
        return None
    if not row:
        return None
    try:
        inputs = json.loads(row[3])
        components = json.loads(row[2])
    except (TypeError, ValueError):
        return None
    return {"fingerprint": row[0], "built_at_utc": str(row[1]), "components": components, "inputs": inputs,
            "via": "warehouse"}


@dataclass
class Decision:
    up_to_date: bool
    reason: str
    fingerprint: Fingerprint | None = None
    seconds: float = 0.0
    via: str = ""                   # where the recorded fingerprint was read: sidecar or warehouse


def _what_changed(old: dict, new: Fingerprint) -> str:
    changed = [k for k in new.components if old.get("components", {}).get(k) != new.components[k]]
    if not changed:
        return "fingerprint differs"
    old_detail = (old.get("inputs") or {}).get("detail") or {}
    parts = []
    for name in changed:
        before, after = old_detail.get(name), new.detail[name]
        if name == "raw" and isinstance(before, dict):
            after, before = after["files"], before.get("files") or {}
        if isinstance(before, dict) and isinstance(after, dict):
            keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            parts.append(f"{name} ({', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''})" if keys else name)
        else:
            parts.append(name)
    return "changed since the last build: " + "; ".join(parts)


def decide(cfg: Settings, dbt_vars: dict | None = None, rehash: bool = False,
           project_dir: Path = PROJECT_DIR) -> Decision:
    """Whether a full build of cfg would rebuild what the warehouse already holds.
    Call with the build lock held. Any doubt (no warehouse, no recorded
    fingerprint, a WAL beside it, Data Docs missing, a pre-flight problem) means
    "build": the build then reports the problem itself."""
    from . import manifest, validate
    from .errors import QSafetyError

    start = time.monotonic()

    def no(reason: str, fp=None) -> Decision:
        return Decision(False, reason, fp, time.monotonic() - start)

    if cfg.target != "duckdb":
        return no(f"the {cfg.target} target is always built")
    if not cfg.db_path.exists():
        return no("no warehouse yet")
    if cfg.db_path.with_name(cfg.db_path.name + ".wal").exists():
        return no("the warehouse has a write-ahead log (a session wrote to it)")
    if not (cfg.data_docs_dir / "index.html").exists():
        return no("its Data Docs are missing")
    old = recorded(cfg.db_path)
    if old is None:
        return no("the warehouse records no build fingerprint")
    try:
        dbt_vars = validate.check_dbt_vars(dbt_vars)
        validate.check_environment()
        rows = manifest.read_manifest(cfg.manifest_path)
        if not cfg.raw_dir.is_dir():
            return no("raw directory not found")
        max_line = int(validate.effective_var("raw_line_max_bytes", dbt_vars))
        audits = manifest.audit_sources(cfg.raw_dir, rows, stat_cache=cfg.work_dir / "file_hashes.json",
                                        rehash=rehash, max_line_bytes=max_line)
        if manifest.check_against_manifest(cfg.raw_dir, rows, audits):
            return no("the raw files do not match the lockfile")
    except QSafetyError as exc:
        return no(f"pre-flight: {exc}")
    fp = compute(cfg, dbt_vars, audits, project_dir)
    if fp.digest != old["fingerprint"]:
        return no(_what_changed(old, fp), fp)
    return Decision(True, f"inputs unchanged since the build of {old['built_at_utc']} UTC", fp,
                    time.monotonic() - start, old.get("via", ""))


def bundle_fingerprint(out_dir: Path) -> str | None:
    """The build fingerprint an export bundle's run_manifest.json records."""
    try:
        data = json.loads((Path(out_dir) / "run_manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entry = data.get("build_fingerprint") if isinstance(data, dict) else None
    return entry.get("fingerprint") if isinstance(entry, dict) else None


# --------------------------------------------------------------------------------------
# dbt unit tests: run when the code they test changed
# --------------------------------------------------------------------------------------
# dbt's unit tests check the code (a model's SQL on fixture rows given for every input it
# reads, with their vars), not the data: their outcome is decided by the project (SQL,
# macros, seeds), the lock dir's registry additions (seeds a macro may read), the vars,
# the packages and the target - every component of the fingerprint except the raw files
# and the lockfile's list of them. A full build runs them unless they passed in this build
# dir for the same code key (the record below), so a build after new raw files and their
# lockfile rows (the common case) skips them, and any change of the code, a seed, a var or
# a package runs them again; `--full-refresh` always runs them.
UNIT_TESTS_RECORD = "unit_tests_passed.json"


def code_key(fp: Fingerprint) -> str:
    """sha256 over what the unit tests depend on: the fingerprint's components other than
    the raw files, with the lock dir's registry additions but not its lockfile."""
    from .lockdir import MANIFEST_FILE

    code = {name: digest for name, digest in fp.components.items() if name not in ("raw", "lockdir")}
    code["lockdir_additions"] = {name: digest for name, digest in (fp.detail.get("lockdir") or {}).items()
                                 if name != MANIFEST_FILE}
    return sha256_bytes(json.dumps(code, sort_keys=True).encode("utf-8"))


# --------------------------------------------------------------------------------------
# the parse models' rows: parsed again when the code that parsed them changed
# --------------------------------------------------------------------------------------
# The parse models (base_<kind>__lines) are incremental by file: a file already ingested
# with the same sha256 is not read again. Its rows are a function of its bytes and of the
# code key (the SQL and macros that parse it, the seeds its checks read - task catalog,
# registry additions -, the vars - raw_line_max_bytes, quarantine_preview_chars - and the
# packages), so the warehouse records the code key its parse rows were written with (table
# parse_code_key), and `qsafety build` parses every file again (as `--full-refresh`) when it
# differs or is not recorded. The key is the whole code key, not only the files the parse
# reads: a change anywhere in the project re-parses once, which costs one full build and
# cannot miss a macro the parse calls.
PARSE_TABLE = "parse_code_key"


def record_parse_key(con, key: str) -> None:
    """After a build that (re)parsed every file it needed with this code key."""
    con.execute(f"create or replace table {PARSE_TABLE} (code_key varchar, recorded_at_utc timestamp)")
    con.execute(f"insert into {PARSE_TABLE} values (?, ?::timestamp)",
                [key, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())])
    con.execute(f"comment on table {PARSE_TABLE} is 'The code key (project code, seeds, vars, packages) the "
                f"rows of the incremental parse models base_<kind>__lines were written with: qsafety build "
                f"parses every file again when it changes (quant_safety.uptodate).'")


def reparse_reason(db_path: Path, key: str) -> str | None:
    """Why the warehouse's parse rows cannot be reused with this code key, or None."""
    import duckdb

    try:
        with duckdb.connect(str(db_path), read_only=True) as con:
            row = con.execute(f"select code_key from {PARSE_TABLE} limit 1").fetchone()
    except duckdb.CatalogException:
        return "the warehouse does not record the code its raw lines were parsed with"
    except duckdb.Error as exc:
        return f"its parse code key could not be read ({str(exc).splitlines()[0]})"
    if not row:
        return "the warehouse does not record the code its raw lines were parsed with"
    if row[0] != key:
        return "the project code, a seed, a var or a package changed since the raw lines were parsed"
    return None


def unit_tests_passed_at(work_dir: Path, key: str) -> str | None:
    """When the unit tests last passed in this build dir for this code key (UTC), else None."""
    try:
        data = json.loads((Path(work_dir) / UNIT_TESTS_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("code_key") != key:
        return None
    return str(data.get("passed_at_utc") or "?")


def record_unit_tests_passed(work_dir: Path, key: str, count: int) -> None:
    _write_json(Path(work_dir) / UNIT_TESTS_RECORD,
                {"code_key": key, "unit_tests": count,
                 "passed_at_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())})
