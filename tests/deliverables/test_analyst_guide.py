"""The three example queries of README.md run against the demo warehouse."""
from __future__ import annotations

import re

from quant_safety.cli import main
from quant_safety.config import PROJECT_DIR


def guide_queries() -> list[str]:
    text = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    return re.findall(r'^qsafety query "(.+)"$', text, re.M)


def test_the_guide_has_three_queries():
    assert len(guide_queries()) == 3


def test_guide_queries_run(cli_env, capsys):
    outputs = []
    for sql in guide_queries():
        assert main(["query", sql]) == 0, sql
        outputs.append(capsys.readouterr().out)
    hidden, gaps, claims = outputs

    def rows(table: str) -> int:   # DuckDB's box table: column names, column types, then the rows
        return sum(line.startswith("│") for line in table.splitlines()) - 2

    assert "hidden_danger" not in hidden and "llama3.2-1b" in hidden and "GPTQ" in hidden
    assert rows(hidden) == 9  # the 9 hidden-danger cells
    assert "mistral-7b" in gaps and rows(gaps) == 23
    assert "MEC_001" in claims and "differs" in claims
