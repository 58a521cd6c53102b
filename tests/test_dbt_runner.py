"""The dbt runner keeps a saved partial parse only for the checkout that made it."""
from __future__ import annotations

from quant_safety.config import PROJECT_DIR
from quant_safety.engine.dbt_runner import _drop_foreign_partial_parse


def test_partial_parse_of_another_checkout_is_dropped(tmp_path):
    target = tmp_path / "dbt_target"
    target.mkdir()
    saved = target / "partial_parse.msgpack"
    saved.write_bytes(b"parse of /somewhere/else")
    (target / ".qsafety_project_dir").write_text("/somewhere/else")
    _drop_foreign_partial_parse(target)
    assert not saved.exists()
    assert (target / ".qsafety_project_dir").read_text() == str(PROJECT_DIR)


def test_partial_parse_of_this_checkout_is_kept(tmp_path):
    target = tmp_path / "dbt_target"
    target.mkdir()
    (target / ".qsafety_project_dir").write_text(str(PROJECT_DIR))
    saved = target / "partial_parse.msgpack"
    saved.write_bytes(b"parse of this checkout")
    _drop_foreign_partial_parse(target)
    assert saved.read_bytes() == b"parse of this checkout"


def test_unstamped_target_dir_is_reparsed_once(tmp_path):
    target = tmp_path / "dbt_target"
    target.mkdir()
    saved = target / "partial_parse.msgpack"
    saved.write_bytes(b"unknown origin")
    _drop_foreign_partial_parse(target)
    assert not saved.exists()
    saved.write_bytes(b"new parse")
    _drop_foreign_partial_parse(target)
    assert saved.exists()
