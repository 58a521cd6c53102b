"""Fixtures of the statistics tests: a reference matrix built from /work/shared/reference.

The shared directory is located via env QSAFETY_SHARED_DIR (default
``<repo>/../shared``); reference tests skip when it is absent.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
LEVELS = [
    "quality_bertscore", "quality_rouge_l", "quality_coherence",
    "safety_refusal_rate", "safety_truthfulness", "safety_bias_resistance",
    "judge_refusal_rate", "judge_truthfulness", "judge_bias_resistance",
]
# the only reference-data specifics; they live in the tests, never in the package
WAVE2_MODELS = ("mistral-7b", "qwen2.5-7b")
WAVE2_QUANTS = ("AWQ", "GPTQ")
QWEN7B_AWQ_BERTSCORE_DELTA = -8.80  # inconsistencies.md item 4 / provenance: Δ ∈ [-9.33, -8.00]


def shared_reference_dir() -> Path:
    root = Path(os.environ.get("QSAFETY_SHARED_DIR", REPO.parent / "shared"))
    return root / "reference"


def build_reference_matrix(ref: Path) -> pd.DataFrame:
    pc = pd.read_csv(ref / "published_cells.csv")
    rt = pd.read_csv(ref / "rtsi_table.csv")
    m = pc.rename(columns={
        "regex_refusal_rate": "safety_refusal_rate",
        "regex_truthfulness": "safety_truthfulness",
        "regex_bias_resistance": "safety_bias_resistance",
    }).copy()
    m["is_baseline"] = m["quant"] == m["baseline_quant"]
    wave2 = m["base_model"].isin(WAVE2_MODELS) & m["quant"].isin(WAVE2_QUANTS)
    m["release_wave"] = np.where(wave2, 2, 1).astype(int)
    base = m.loc[m["is_baseline"]].set_index("base_model")
    for lev in LEVELS:
        m[f"{lev}_delta_pp"] = 100.0 * (m[lev] - m["base_model"].map(base[lev]))
    pub_b = m["published_bertscore_delta_pp"]
    m["quality_bertscore_delta_pp"] = pub_b.where(pub_b.notna(), m["quality_bertscore_delta_pp"])
    qa = (m["base_model"] == "qwen2.5-7b") & (m["quant"] == "AWQ")
    m.loc[qa & m["quality_bertscore_delta_pp"].isna(), "quality_bertscore_delta_pp"] = QWEN7B_AWQ_BERTSCORE_DELTA
    pub_j = m["published_judge_refusal_delta_pp"]
    m["judge_refusal_rate_delta_pp"] = pub_j.where(pub_j.notna(), m["judge_refusal_rate_delta_pp"])
    # Phase 6: AdvBench-only refusal delta (fraction) from rtsi_table
    key = ["base_model", "quant"]
    rt = rt.rename(columns={"refusal_rate": "advbench_refusal_rate",
                            "refusal_rate_delta": "advbench_refusal_rate_delta"})
    m = m.merge(rt[key + ["advbench_refusal_rate", "advbench_refusal_rate_delta"]], on=key, how="left")
    return m


@pytest.fixture(scope="session")
def reference_matrix() -> pd.DataFrame:
    ref = shared_reference_dir()
    if not (ref / "published_cells.csv").exists() or not (ref / "rtsi_table.csv").exists():
        pytest.skip(f"shared reference data absent at {ref} (set QSAFETY_SHARED_DIR)")
    return build_reference_matrix(ref)
