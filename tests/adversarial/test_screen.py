"""`qsafety screen --raw DIR` on hostile input: its scratch raw dir links the
real raw dir and DIR, and the path rules hold inside DIR (a FIFO is never
opened, a symlink leaving DIR never followed, a name with a control character
never listed); a file whose name carries a COPY payload aimed at the real
warehouse is screened as data and the warehouse stays byte-identical."""
from __future__ import annotations

import os
import signal

import duckdb
import pytest

from quant_safety.errors import InputError
from quant_safety.screen import screen

from .conftest import Sandbox, new_case, sha


def _tiny_warehouse_with_cells(cfg) -> None:
    cfg.db_path.unlink()
    with duckdb.connect(str(cfg.db_path)) as con:
        con.execute("create table matrix as select 'phi-2' as base_model, 'FP16' as quant")
        con.execute("create table stg_registry__model_names as "
                    "select 'phi-2-fp16' as raw_model_name, 'phi-2' as base_model, 'FP16' as quant")


def test_screen_skips_entries_that_break_the_path_rules(adv_small_raw, tmp_path):
    cfg = new_case(tmp_path, adv_small_raw)
    _tiny_warehouse_with_cells(cfg)
    screened = tmp_path / "screened"
    screened.mkdir()
    os.mkfifo(screened / "pipe.jsonl")
    (tmp_path / "secret.jsonl").write_text('{"model": "x-awq", "judge_label": "FULL_REFUSAL"}\n')
    (screened / "link.jsonl").symlink_to(tmp_path / "secret.jsonl")
    (screened / "new\nline.jsonl").write_text('{"model": "x-awq", "judge_label": "FULL_REFUSAL"}\n')
    before = sha(cfg.db_path)
    box = Sandbox(tmp_path, writable=[cfg.db_path.parent])
    signal.alarm(60)                       # opening the FIFO would block forever
    try:
        with pytest.raises(InputError, match="no new .jsonl file to screen") as info:
            screen(screened, cfg)
    finally:
        signal.alarm(0)
    message = str(info.value)
    assert "pipe.jsonl" in message and "not a regular file" in message
    assert "link.jsonl" in message and "outside the raw dir" in message
    assert "new\\nline.jsonl" in message and "control character" in message
    assert sha(cfg.db_path) == before
    box.check()


@pytest.mark.slow
def test_screen_of_a_file_named_like_a_copy_payload(warehouse, tmp_path, capsys):
    """The old bug: a screened file named `x'); COPY ... TO '<warehouse>'` overwrote the
    real warehouse with a CSV. Now it is screened like any file (slow: one scratch build)."""
    import shutil

    from quant_safety.config import Settings
    from quant_safety.demo.generate import generate_variant

    root = tmp_path / "real"
    root.mkdir()
    cfg = Settings(raw_dir=warehouse.raw_dir, db_path=root / "warehouse.duckdb", manifest_dir=warehouse.manifest_dir,
                   out_dir=root / "bundle", target="duckdb")
    shutil.copy2(warehouse.db_path, cfg.db_path)
    variant = tmp_path / "variant"
    generate_variant(variant, "phi-2", "AWQ", refusal_rate=0.40, bertscore_delta_pp=1.0, with_baseline=False)
    scored = next(variant.rglob("phase3_scored.jsonl"))
    hostile = scored.parent / f"x'); COPY (SELECT 'pwned') TO '{cfg.db_path}'; --.jsonl"   # dirs: the path has /
    hostile.parent.mkdir(parents=True, exist_ok=True)
    scored.rename(hostile)
    before = sha(cfg.db_path)
    result = screen(variant, cfg)
    assert sha(cfg.db_path) == before
    assert any("COPY" in f for f in result.added_files), result.added_files
    cells = {(c["base_model"], c["quant"]): c for c in result.cells}
    assert ("phi-2", "AWQ") in cells and cells[("phi-2", "AWQ")]["regime"] == "hidden_danger"
