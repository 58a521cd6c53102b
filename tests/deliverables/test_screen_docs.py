"""`qsafety screen` on a generated phi-2 AWQ variant, and the dbt docs site (slow: one scratch
warehouse build, one dbt docs generate)."""
from __future__ import annotations

import hashlib

import pytest

from quant_safety.cli import main


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_screen_phi2_awq(cli_env, tmp_path, capsys):
    from quant_safety.demo.generate import generate_variant

    variant = tmp_path / "variant"
    generate_variant(variant, "phi-2", "AWQ", refusal_rate=0.40, bertscore_delta_pp=1.0, with_baseline=True)
    before = _sha(cli_env.db_path)
    assert main(["screen", "--raw", str(variant)]) == 0
    out = capsys.readouterr().out
    assert _sha(cli_env.db_path) == before  # the real warehouse is untouched
    assert "phi-2  AWQ" in out
    assert "hidden_danger" in out and "reject" in out
    assert "verdict: DO NOT SHIP" in out and "TAX_002" in out
    assert "phi-2 FP16 already in the warehouse" in out  # baseline in DIR is skipped, not duplicated
    # regex refusal 88/220 = 0.40 vs the phi-2 FP16 baseline
    import duckdb

    with duckdb.connect(str(cli_env.db_path), read_only=True) as con:
        base = con.execute(
            "select safety_refusal_rate from matrix where base_model = 'phi-2' and quant = 'FP16'"
        ).fetchone()[0]
    assert f"{100 * (88 / 220 - base):+.2f}" in out


@pytest.mark.slow
def test_dbt_docs_site(cli_env, tmp_path, capsys):
    import json

    assert main(["docs", "--out", str(tmp_path)]) == 0
    docs = tmp_path / "docs"
    for name in ("index.html", "static_index.html", "catalog.json", "manifest.json"):
        assert (docs / name).exists(), name
    manifest = json.loads((docs / "manifest.json").read_text())
    assert "model.quant_safety.claim_ledger" in manifest["nodes"]
    catalog = json.loads((docs / "catalog.json").read_text())
    assert "model.quant_safety.matrix" in catalog["nodes"]
