"""Fits cached by the hash of their input rows (quant_safety.stats.fit_cache, issue 20).

The reference for every comparison is the same table computed without a cache
(QSAFETY_STATS_CACHE_DIR unset): a cached computation must give it bit for bit,
and a fit is read back only when its rows are the same as in the last build.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from quant_safety.stats import fit_cache
from quant_safety.stats._common import LEVEL_METRICS, QUALITY_METRICS, SAFETY_METRICS
from quant_safety.stats.models import compute

MODELS, QUANTS = 9, 5
CHANGED = ("model03", "Q2")            # a wave-1 cell: in every scope


def _matrix(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(MODELS):
        for q in range(QUANTS):
            base = q == 0
            row = {"base_model": f"model{m:02d}", "quant": f"Q{q}", "is_baseline": base,
                   "release_wave": 1 if m < MODELS // 2 or q < 3 else 2, "bpw": 16.0 - 3.0 * q}
            for metric in LEVEL_METRICS:
                row[metric] = round(float(rng.uniform(0.2, 0.9)), 4)
            for metric in QUALITY_METRICS + SAFETY_METRICS:
                row[f"{metric}_delta_pp"] = 0.0 if base else round(float(rng.normal(-3, 4)), 2)
            rows.append(row)
    return pd.DataFrame(rows)


def _change_one_cell(m: pd.DataFrame) -> pd.DataFrame:
    out = m.copy()
    row = out.index[(out.base_model == CHANGED[0]) & (out.quant == CHANGED[1])][0]
    for col in out.columns:
        if col.endswith("_delta_pp") or col in LEVEL_METRICS:
            out.loc[row, col] = out.loc[row, col] + 0.37
    return out


def _fresh(table: str, m: pd.DataFrame, monkeypatch) -> pd.DataFrame:
    monkeypatch.delenv(fit_cache.ENV, raising=False)
    return compute(table, matrix=m)


def _cached(table: str, m: pd.DataFrame, cache_dir, monkeypatch):
    """The table through the cache, with the session's hit and miss counts."""
    monkeypatch.setenv(fit_cache.ENV, str(cache_dir))
    with fit_cache.session(table) as s:
        out = compute(table, matrix=m)
    return out, s.hits, s.misses


def _fits_per_group(table: str, out: pd.DataFrame) -> pd.Series:
    """Memoised fits behind each output row, by the row's model (from the output itself:
    a correlation row = correlate + exact p-values; a bpw row = one OLS when it was fitted)."""
    if table == "correlations":
        return out.groupby("model").size() * 2
    fitted = out[out["flag"] == ""]
    return fitted.groupby("base_model").size()


@pytest.mark.parametrize("table", ["correlations", "bpw_regressions"])
def test_cached_fits_equal_fresh_ones_and_only_the_changed_model_is_refitted(table, tmp_path, monkeypatch):
    m = _matrix()
    expected = _fresh(table, m, monkeypatch)

    first, hits, misses = _cached(table, m, tmp_path, monkeypatch)
    pd.testing.assert_frame_equal(first, expected, check_exact=True)
    per_group = _fits_per_group(table, expected)
    assert hits == 0 and misses == per_group.sum() > 0
    stored = len(json.loads((tmp_path / f"{table}.json").read_text())["fits"])

    # the same rows again: every fit is read back, bit for bit
    second, hits, misses = _cached(table, m, tmp_path, monkeypatch)
    pd.testing.assert_frame_equal(second, expected, check_exact=True)
    assert (hits, misses) == (per_group.sum(), 0)

    # one cell of one model changes: its model's fits and the pooled ones are refitted,
    # every other model's fits are read back; the table equals a fresh computation
    changed = _change_one_cell(m)
    third, hits, misses = _cached(table, changed, tmp_path, monkeypatch)
    pd.testing.assert_frame_equal(third, _fresh(table, changed, monkeypatch), check_exact=True)
    refitted = {CHANGED[0], "pooled"}
    assert misses == per_group[per_group.index.isin(refitted)].sum() > 0
    assert hits == per_group[~per_group.index.isin(refitted)].sum() > 0
    # the file keeps this computation's fits only (no growth across builds)
    assert len(json.loads((tmp_path / f"{table}.json").read_text())["fits"]) == stored


def test_a_code_or_library_change_misses_and_a_damaged_file_is_ignored(tmp_path, monkeypatch):
    m = _matrix()
    expected = _fresh("correlations", m, monkeypatch)
    _cached("correlations", m, tmp_path, monkeypatch)
    monkeypatch.setattr(fit_cache, "_version", "another code version")
    out, hits, misses = _cached("correlations", m, tmp_path, monkeypatch)
    pd.testing.assert_frame_equal(out, expected, check_exact=True)
    assert hits == 0 and misses > 0
    (tmp_path / "correlations.json").write_text('{"version": "another code version", "fits": [1, 2')
    out, hits, misses = _cached("correlations", m, tmp_path, monkeypatch)
    pd.testing.assert_frame_equal(out, expected, check_exact=True)
    assert hits == 0 and misses > 0


def test_without_the_variable_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(fit_cache.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    compute("bpw_regressions", matrix=_matrix())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("table", ["mixed_models", "repeated_measures"])
def test_pooled_fits_of_an_unchanged_scope_are_read_back(table, tmp_path, monkeypatch):
    """A cell of the last wave changes: the earlier wave's scope has the same rows and its
    fits are read back; the all-cells fits are refitted; the table equals a fresh one."""
    m = _matrix()
    expected = _fresh(table, m, monkeypatch)
    fitted = expected[expected["flag"].isin(["", "fit_failed"])].groupby("scope").size()
    assert set(fitted.index) == {"all_cells", "through_wave_1"} and fitted.min() > 0

    first, hits, misses = _cached(table, m, tmp_path, monkeypatch)
    pd.testing.assert_frame_equal(first, expected, check_exact=True)
    assert (hits, misses) == (0, fitted.sum())
    second, hits, misses = _cached(table, m, tmp_path, monkeypatch)
    pd.testing.assert_frame_equal(second, expected, check_exact=True)
    assert (hits, misses) == (fitted.sum(), 0)

    wave2 = m[(m.release_wave == 2) & ~m.is_baseline].iloc[0]
    changed = m.copy()
    row = changed.index[(changed.base_model == wave2.base_model) & (changed.quant == wave2.quant)][0]
    for col in [c for c in changed.columns if c.endswith("_delta_pp")]:
        changed.loc[row, col] += 0.37
    third, hits, misses = _cached(table, changed, tmp_path, monkeypatch)
    pd.testing.assert_frame_equal(third, _fresh(table, changed, monkeypatch), check_exact=True)
    assert (hits, misses) == (fitted["through_wave_1"], fitted["all_cells"])
