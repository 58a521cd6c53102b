"""The claim ledger: published values from the seed, computed values from the warehouse."""
from __future__ import annotations

import pytest

E4_IDS = ["REV_001", "ASY_001", "REG_001", "FLR_001", "MEC_001", "MEC_002", "JDG_001", "ROB_005"]


@pytest.fixture(scope="module")
def ledger(warehouse):
    import duckdb

    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        return con.execute("select * from claim_ledger order by claim_id").df().set_index("claim_id")


def test_ledger_covers_the_report(ledger):
    assert len(ledger) >= 40
    assert set(E4_IDS) <= set(ledger.index)
    for group in ("abstract", "exec_summary", "validation_summary", "core_decisions", "claim_validation"):
        assert (ledger["claim_group"] == group).sum() >= 4, group
    for i in range(1, 9):  # every row C1-C8 of the Claim Validation table
        assert any(cid == f"CLM_C{i}" or cid.startswith(f"CLM_C{i}_") for cid in ledger.index), i
    assert set(ledger["status"]) <= {"reproduced", "differs", "not_computable"}


def test_reproduced_rows_are_within_tolerance(ledger):
    rep = ledger[(ledger["status"] == "reproduced") & ledger["published_category"].isna()]
    assert len(rep) >= 40
    assert ((rep["computed_value"] - rep["published_value"]).abs() <= rep["tolerance"] + 1e-9).all()
    cat = ledger[(ledger["status"] == "reproduced") & ledger["published_category"].notna()]
    assert (cat["computed_text"] == cat["published_category"]).all()


def test_differs_rows_have_a_reason(ledger):
    for status in ("differs", "not_computable"):
        rows = ledger[ledger["status"] == status]
        assert len(rows), status
        assert rows["status_reason"].notna().all()
        assert not rows["status_reason"].str.startswith("UNEXPLAINED").any(), rows[["status_reason"]]
    differs = ledger[ledger["status"] == "differs"]
    assert ((differs["computed_value"] - differs["published_value"]).abs() > differs["tolerance"]).all()


def test_computed_values_come_from_the_warehouse(ledger, query):
    hidden = query("select count(*) as n from regimes where regime = 'hidden_danger'")["n"][0]
    assert ledger.loc["REG_001", "computed_value"] == hidden
    faster = query("select count(*) as n from asymmetry where safety_degrades_faster")["n"][0]
    assert ledger.loc["ASY_001", "computed_value"] == faster
    r = query("""select pearson_r from correlations where scope = 'all_cells' and model = 'pooled'
                 and quality_metric = 'quality_bertscore' and safety_metric = 'safety_refusal_rate'""")["pearson_r"][0]
    assert ledger.loc["EXS_201", "computed_value"] == pytest.approx(r, abs=1e-12)
    q5 = query("select max(abs(judge_refusal_rate_delta_pp)) as m from q5_floor")["m"][0]
    assert ledger.loc["FLR_001", "computed_value"] == pytest.approx(q5)
    assert ledger.loc["ABS_015", "status"] == "not_computable"  # Claude second judge: no data


def test_contradictions_are_resolved_as_inconsistencies_md_says(ledger):
    # 9 vs 7 hidden danger: 9 (the 47-cell subset gives 7)
    assert ledger.loc["REG_001", "computed_value"] == 9 and ledger.loc["REG_001", "computed_value_47cell"] == 7
    assert ledger.loc["REG_001", "status"] == "reproduced"
    # 36/36 vs 34/36
    assert ledger.loc["REV_001", "computed_value"] == 36 and ledger.loc["REV_002", "status"] == "differs"
    # 23 vs 21 TAX_005
    assert ledger.loc["EXS_701", "computed_value"] == 23 and ledger.loc["EXS_701", "computed_value_47cell"] == 21
    # 37/45 vs 33/41
    assert ledger.loc["ASY_001", "computed_value"] == 37 and ledger.loc["ASY_001", "computed_value_47cell"] == 33
    # r +0.132 (45 cells) vs +0.122 (41 cells): both right for their bundle
    assert ledger.loc["EXS_201", "status"] == "reproduced"
    # (41-cell r = +0.1215 per inconsistencies.md item 4: at the rounding edge of the printed +0.122)
    assert ledger.loc["EXS_201", "computed_value_47cell"] == pytest.approx(0.122, abs=1e-3)
    # Phase 6 r +0.562 (45) vs +0.589 (41): the data support 0.562; MEC_001 (E.4 cites 0.589) differs
    assert ledger.loc["EXS_601", "status"] == "reproduced"
    assert ledger.loc["MEC_001", "status"] == "differs"
    assert ledger.loc["MEC_001", "bundle_match"] == "47_cell_only"
    assert "+0.562" in ledger.loc["MEC_001", "data_supports"]
    assert "47-cell" in ledger.loc["MEC_001", "conflict_resolution"]
