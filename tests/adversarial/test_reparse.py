"""The parse models are incremental by file (a file ingested before with the same sha256
is not read again), but their rows also depend on the code and vars that parsed them.
A var that changes what a line's parse row holds (quarantine_preview_chars: the preview
kept of a broken line) makes `qsafety build` parse every file again; the same code and
vars reuse the rows. Each build starts from a copy of the suite's shared build
(conftest.adv_built: the small synthetic demo raw dir plus the hostile files)."""
from __future__ import annotations

import duckdb

from quant_safety.build import build

from .conftest import copy_built

SELECT = "resource_type:seed staging audit"
REPARSE = "every raw file is parsed again"


def _previews(cfg) -> list:
    with duckdb.connect(str(cfg.db_path), read_only=True) as con:
        return con.execute("""select source_line, length(raw_line_preview) from audit_quarantine
                              where relative_path = 'hostile/long_lines.jsonl' order by source_line""").fetchall()


def test_a_var_the_parse_reads_parses_every_file_again(adv_built, tmp_path, capsys):
    cfg = copy_built(adv_built["cfg"], tmp_path)
    assert _previews(cfg) == [(2, 300), (5, 300)]          # the default, 300 characters
    capsys.readouterr()
    build(cfg, dbt_vars={"quarantine_preview_chars": "40"}, select=SELECT, gate=False)
    assert _previews(cfg) == [(2, 40), (5, 40)]             # not the previous build's 300
    assert REPARSE in capsys.readouterr().out
    # the same code and vars again: the parse rows are reused, nothing is parsed again
    build(cfg, dbt_vars={"quarantine_preview_chars": "40"}, select=SELECT, gate=False)
    assert REPARSE not in capsys.readouterr().out
    assert _previews(cfg) == [(2, 40), (5, 40)]
