"""The dbt docs site (`dbt docs generate --static`) of a built warehouse,
written to a directory of the bundle as a whole (a new directory swapped in)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..config import Settings
from ..errors import QSafetyError

DOCS_FILES = ["index.html", "static_index.html", "catalog.json", "manifest.json"]


def run_docs_generate(cfg: Settings, db_file: Path, quiet: bool = True, progress=None, **kwargs) -> list[str]:
    """`dbt docs generate --static` (also writes static_index.html: manifest and
    catalog inlined, opens from file://). `progress`: a
    quant_safety.progress.Progress to show dbt's progress on (one stage line)."""
    from .dbt_runner import run_dbt

    args = ["docs", "generate", "--static"]
    if progress is None:
        return run_dbt(cfg, db_file, args, quiet=quiet, **kwargs)
    with progress.stage("dbt docs generate") as stage:
        return run_dbt(cfg, db_file, args, on_line=stage.dbt_line, **kwargs)


def generate_on_scratch_copy(cfg: Settings, docs_dir: Path, quiet: bool = True, progress=None) -> Path:
    """DuckDB: dbt opens its database read-write, so the docs are generated on a
    scratch copy of the warehouse file with a work dir (dbt target, logs) of its
    own; the real warehouse is never touched."""
    with tempfile.TemporaryDirectory(prefix="qsafety_docs_") as tmp:
        scratch_db = Path(tmp) / cfg.db_path.name
        shutil.copy2(cfg.db_path, scratch_db)
        # the scratch Settings keep raw dir and manifest; work_dir (dbt target, logs) lives in tmp
        scratch = Settings(raw_dir=cfg.raw_dir, db_path=scratch_db, manifest_dir=cfg.manifest_dir,
                           out_dir=cfg.out_dir, target=cfg.target)
        scratch.work_dir.mkdir(parents=True, exist_ok=True)
        audit = cfg.work_dir / "source_audit.csv"
        if audit.exists():
            shutil.copy2(audit, scratch.work_dir / "source_audit.csv")
        run_docs_generate(scratch, scratch_db, quiet=quiet, progress=progress)
        copy_docs_site(scratch.work_dir / "dbt_target", docs_dir)
    if not (docs_dir / "index.html").exists():
        raise QSafetyError(f"{docs_dir}: dbt docs generate wrote no index.html")
    return docs_dir


def copy_docs_site(src_dir: Path, docs_dir: Path) -> None:
    """The docs site written to a new directory beside docs_dir, then swapped in whole."""
    from ..atomic import replace_dir

    docs_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = docs_dir.with_name(f".{docs_dir.name}.new-{os.getpid()}")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        for name in DOCS_FILES:
            if (src_dir / name).exists():
                shutil.copy2(src_dir / name, stage / name)
        replace_dir(stage, docs_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
