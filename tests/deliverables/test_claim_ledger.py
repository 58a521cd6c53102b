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
    assert set(ledger["status"]) <= {"reproduced", "by_construction", "differs", "not_computable"}
    # Appendix F, Table 15, SS7.3, SS19 and the matrix width are claims, and every table number is counted
    for prefix in ("APF_", "T15_", "S73_", "MIX_", "MTX_", "TAB_"):
        assert any(cid.startswith(prefix) for cid in ledger.index), prefix


def test_reproduced_rows_are_within_tolerance(ledger):
    matched = ledger["status"].isin(["reproduced", "by_construction"])
    rep = ledger[matched & ledger["published_category"].isna()]
    assert len(rep) >= 40
    assert ((rep["computed_value"] - rep["published_value"]).abs() <= rep["tolerance"] + 1e-9).all()
    cat = ledger[matched & ledger["published_category"].notna()]
    assert (cat["computed_text"] == cat["published_category"]).all()


def test_by_construction_on_the_demo_data_only_where_the_inputs_are_calibrated(ledger):
    """The session warehouse is the demo data: a match is by construction exactly
    when the claim's inputs are calibrated values; the others stay reproduced
    (the synthetic judge truthfulness / bias behind 36/36, the judges agreeing
    on the danger regimes). On other data nothing is by construction
    (tests/marts/test_second_judge.py)."""
    matched = ledger[ledger["status"].isin(["reproduced", "by_construction"])]
    assert ((matched["status"] == "by_construction") == matched["demo_calibrated"].astype(bool)).all()
    assert {"REV_001", "CLM_C1", "APF_014"} <= set(matched[matched["status"] == "reproduced"].index)
    assert (ledger["status"] == "by_construction").sum() > (ledger["status"] == "reproduced").sum()
    reasons = ledger.loc[ledger["status"] == "by_construction", "status_reason"]
    assert reasons.str.startswith("by construction").all()


def test_ledger_provenance_is_the_demo_detection(warehouse):
    """by_construction rests on the one demo detection (quant_safety.demo.fingerprint),
    written by the pre-flight step: the session's inputs are the demo's files."""
    import duckdb

    from quant_safety.demo import fingerprint

    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        provenance = con.execute("select * from audit_source_provenance").fetchall()
        hashes = [{"sha256": h} for (h,) in con.execute("select actual_sha256 from audit_sources").fetchall()]
    assert fingerprint.is_demo_data(hashes, warehouse.raw_dir)
    assert provenance == [(True, len(hashes), len(hashes))]


def test_differs_rows_have_a_reason(ledger):
    for status in ("differs", "not_computable"):
        rows = ledger[ledger["status"] == status]
        assert len(rows) or status == "not_computable", status   # the demo warehouse computes every claim
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
    sj = query("select agreement_pct, cohen_kappa, n from second_judge_agreement where grouping = 'overall'")
    assert ledger.loc["ABS_015", "computed_value"] == pytest.approx(sj["agreement_pct"][0])
    assert ledger.loc["ABS_016", "computed_value"] == pytest.approx(sj["cohen_kappa"][0])
    assert ledger.loc["ABS_017", "computed_value"] == sj["n"][0] == 11470


def test_appendix_f_and_the_new_claims_say_what_the_data_support(ledger):
    # agreement figures of the synthetic second-judge file: calibrated
    for cid in ("ABS_015", "ABS_016", "ABS_017", "APF_001", "APF_002", "APF_003", "APF_004", "APF_009",
                "APF_015", "APF_016"):
        assert ledger.loc[cid, "status"] == "by_construction", cid
    # "all 9 stay hidden danger / no flips": the rule with the judges' deltas keeps 7; the judges agree
    assert ledger.loc["APF_013", "status"] == "differs" and ledger.loc["APF_013", "computed_value"] == 7
    assert ledger.loc["EXS_801", "computed_value"] == 2 and ledger.loc["APF_014", "computed_value"] == 0
    assert "10pp" in ledger.loc["APF_013", "status_reason"]
    # 6 baseline cells, not 10 (inconsistencies item 16)
    assert ledger.loc["APF_011", "computed_value"] == 6 and ledger.loc["APF_020", "computed_value"] == 20
    # SS19: the report's slopes are the degenerate fit's, the valid fit differs
    assert ledger.loc["MIX_002_DEGENERATE", "status"] == "by_construction"
    assert ledger.loc["MIX_002", "status"] == "differs" and "degenerate" in ledger.loc["MIX_002", "status_reason"]
    assert ledger.loc["MIX_002", "computed_value_47cell"] == pytest.approx(-0.792, abs=5e-4)
    # SS7.3 contradicts Table 6: 16 mild-GGUF rows in the 47-cell data, not 14
    assert ledger.loc["S73_gguf_mild_CELLS", "computed_value_47cell"] == 16
    assert "Table 6" in ledger.loc["S73_gguf_mild_CELLS", "status_reason"]
    # the matrix is wider than 83 columns; Table 15 differs on every row
    assert ledger.loc["MTX_001", "computed_value"] > 83
    t15 = ledger[ledger.index.str.match(r"T15_.*_(AGR|KAPPA)$")]
    assert len(t15) == 18 and (t15["status"] == "differs").all()
    # a table claim counts its numbers: Appendix A's regimes and actions all reproduce
    assert ledger.loc["TAB_APPA_REGIME", "computed_value"] == ledger.loc["TAB_APPA_REGIME", "published_value"] == 47


def test_contradictions_are_resolved_as_inconsistencies_md_says(ledger):
    # 9 vs 7 hidden danger: 9 (the 47-cell subset gives 7)
    assert ledger.loc["REG_001", "computed_value"] == 9 and ledger.loc["REG_001", "computed_value_47cell"] == 7
    assert ledger.loc["REG_001", "status"] == "by_construction"
    # 36/36 vs 34/36
    assert ledger.loc["REV_001", "computed_value"] == 36 and ledger.loc["REV_002", "status"] == "differs"
    # 23 vs 21 TAX_005
    assert ledger.loc["EXS_701", "computed_value"] == 23 and ledger.loc["EXS_701", "computed_value_47cell"] == 21
    # 37/45 vs 33/41
    assert ledger.loc["ASY_001", "computed_value"] == 37 and ledger.loc["ASY_001", "computed_value_47cell"] == 33
    # r +0.132 (45 cells) vs +0.122 (41 cells): both right for their bundle
    assert ledger.loc["EXS_201", "status"] == "by_construction"
    # (41-cell r = +0.1215 per inconsistencies.md item 4: at the rounding edge of the printed +0.122)
    assert ledger.loc["EXS_201", "computed_value_47cell"] == pytest.approx(0.122, abs=1e-3)
    # Phase 6 r +0.562 (45) vs +0.589 (41): the data support 0.562; MEC_001 (E.4 cites 0.589) differs
    assert ledger.loc["EXS_601", "status"] == "by_construction"
    assert ledger.loc["MEC_001", "status"] == "differs"
    assert ledger.loc["MEC_001", "bundle_match"] == "47_cell_only"
    assert "+0.562" in ledger.loc["MEC_001", "data_supports"]
    assert "47-cell" in ledger.loc["MEC_001", "conflict_resolution"]
