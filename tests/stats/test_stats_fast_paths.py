"""The fast paths of quant_safety.stats give exactly the numbers of the slow ones.

Each helper that replaced a per-call scipy / pandas / statsmodels route is
compared bit for bit with that route: Pearson / Spearman (scipy.stats), the
per-model row selection (boolean masks), ``paired`` on row subsets, and one
MixedLM model refitted with every optimiser (a fresh model per optimiser).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from quant_safety.stats import _common as c
from quant_safety.stats import robustness


def _bits(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).view(np.int64)


def _random_pairs(seed: int, count: int):
    rng = np.random.default_rng(seed)
    for i in range(count):
        n = int(rng.integers(3, 60)) if i % 10 else int(rng.integers(60, 1500))
        x = rng.normal(rng.uniform(-50, 50), rng.uniform(0.01, 20), n)
        y = rng.uniform(-1, 1) * x + rng.normal(0, rng.uniform(0.01, 20), n)
        kind = i % 5
        if kind == 1:  # 2-dp deltas: ties
            x, y = np.round(x, 2), np.round(y, 2)
        elif kind == 2:  # many ties
            x, y = np.round(x), np.round(y)
        elif kind == 3:  # exact linear relation
            y = x * rng.uniform(-3, 3) + rng.uniform(-3, 3)
        elif kind == 4:
            x, y = np.round(x, 1), np.round(y / 10, 1)
        if c.is_constant(x) or c.is_constant(y):
            continue
        yield x, y


def test_fast_correlation_path_is_enabled():
    # False would mean this scipy/numpy computes differently: correlate() then
    # calls scipy.stats (same numbers, slower) -- update _pearsonr_1d/_spearmanr_1d
    assert c._fast_correlation_ok()


def test_fast_pearson_spearman_bitwise_equal_to_scipy():
    checked = 0
    for x, y in _random_pairs(7, 500):
        fast = c._fast_correlations(x, y)
        ref = c._scipy_correlations(x, y)
        assert np.array_equal(_bits(fast), _bits(ref)), (len(x), fast, ref)
        checked += 1
    assert checked > 450


def test_correlate_equals_scipy_with_nan_pairs_and_flags():
    from scipy import stats

    rng = np.random.default_rng(3)
    x = np.round(rng.normal(0, 4, 40), 2)
    y = np.round(0.5 * x + rng.normal(0, 2, 40), 2)
    x[[3, 9]] = np.nan
    y[[9, 20]] = np.inf
    res = c.correlate(pd.Series(x), pd.Series(y))
    ok = np.isfinite(x) & np.isfinite(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pr = stats.pearsonr(x[ok], y[ok])
        sr = stats.spearmanr(x[ok], y[ok])
    assert res["n"] == int(ok.sum()) == 37
    assert _bits([res["pearson_r"], res["pearson_p"], res["spearman_rho"], res["spearman_p"]]).tolist() == \
        _bits([pr.statistic, pr.pvalue, sr.statistic, sr.pvalue]).tolist()
    assert res["flag"] == c.FLAG_OK
    assert c.correlate([1.0, 2.0], [3.0, 4.0])["flag"] == c.FLAG_N_LT_3
    assert c.correlate([1.0, 1.0, 1.0], [3.0, 4.0, 5.0])["flag"] == c.FLAG_CONSTANT
    assert math.isnan(c.correlate([1.0, 1.0, 1.0], [3.0, 4.0, 5.0])["pearson_r"])


def test_rank_average_equals_scipy_rankdata():
    from scipy import stats

    rng = np.random.default_rng(11)
    for n in (1, 2, 3, 10, 257):
        for v in (rng.normal(size=n), np.round(rng.normal(size=n)), np.zeros(n)):
            assert np.array_equal(_bits(c._rank_average(v)), _bits(stats.rankdata(v)))


def test_group_positions_select_the_rows_of_a_mask():
    s = pd.Series(["b", "a", None, "b", "c", np.nan, "a", "b"])
    pos = c.group_positions(s)
    assert sorted(pos) == ["a", "b", "c"]
    for v in pos:
        assert pos[v].tolist() == np.flatnonzero((s == v).to_numpy()).tolist()
    assert c.group_positions(pd.Series([], dtype=object)) == {}


def test_paired_columns_equal_paired_on_subsets():
    df = pd.DataFrame({
        "a": [1.0, np.nan, 3.0, 4.0, np.inf, 6.0],
        "b": [0.5, 1.5, np.nan, 2.5, 3.5, 4.5],
        "o": pd.Series(["1", "x", "3", None, "5", "6"], dtype=object),
    })
    cols = c.PairedColumns(df)
    for idx in (np.arange(6), np.array([0, 2, 3]), np.array([5]), np.array([], dtype=int)):
        for x, y in (("a", "b"), ("o", "b"), ("b", "o"), ("a", "a")):
            xv, yv = cols.get(x, y, idx)
            ref = c.paired(df.iloc[idx], x, y)
            assert np.array_equal(_bits(xv), _bits(ref[x].to_numpy()))
            assert np.array_equal(_bits(yv), _bits(ref[y].to_numpy()))


def test_one_mixedlm_model_refitted_per_optimiser_equals_fresh_models():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(5)
    g = np.repeat([f"m{i}" for i in range(6)], 7)
    x = np.round(rng.normal(0, 3, len(g)), 2)
    y = np.round(-0.6 * x + np.repeat(rng.normal(0, 4, 6), 7) + rng.normal(0, 2, len(g)), 2)
    data = pd.DataFrame({"x": x, "y": y, "g": g})
    best, opt, msgs, _degenerate = robustness._fit_mixed(data, reml=False)
    fresh = {}
    for o in robustness.OPTIMIZERS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fresh[o] = smf.mixedlm("y ~ x", data, groups=data["g"]).fit(reml=False, method=o)
    ref = fresh[opt]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for a, b in ((best.params, ref.params), (best.bse, ref.bse), (best.pvalues, ref.pvalues),
                     ([best.llf, best.scale], [ref.llf, ref.scale]),
                     (np.asarray(best.cov_re).ravel(), np.asarray(ref.cov_re).ravel())):
            assert np.array_equal(_bits(a), _bits(b))
    # the choice rule on the fresh fits picks the same optimiser: the first good one of the
    # fast pair (powell, bfgs), else the best good one of all five
    good = [o for o in robustness.OPTIMIZERS
            if fresh[o].converged and np.isfinite(fresh[o].llf) and fresh[o].bse["Intercept"] <= 1e6]
    fast = [o for o in robustness.OPTIMIZERS[:robustness.FAST_OPTIMIZERS] if o in good]
    if fast:
        assert opt == fast[0]
    elif good:
        assert opt == max(good, key=lambda o: (fresh[o].llf, -robustness.OPTIMIZERS.index(o)))
    if good:   # and it is the optimum the best of all five finds
        top = max(good, key=lambda o: fresh[o].llf)
        assert best.llf == pytest.approx(fresh[top].llf, rel=1e-7)
        assert best.params["x"] == pytest.approx(fresh[top].params["x"], rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("by", ["quant", "base_model"])
def test_leave_one_out_equals_mask_route(by):
    rng = np.random.default_rng(9)
    models, quants = [f"m{i}" for i in range(5)], [f"q{j}" for j in range(6)]
    rows = [{"base_model": m, "quant": q, "is_baseline": q == "q0", "release_wave": 1,
             "quality_bertscore_delta_pp": float(np.round(rng.normal(0, 3), 2)),
             "safety_refusal_rate_delta_pp": float(np.round(rng.normal(0, 5), 2)),
             "judge_refusal_rate_delta_pp": float(np.round(rng.normal(0, 5), 2))}
            for m in models for q in quants]
    matrix = pd.DataFrame(rows)
    matrix.loc[3, "judge_refusal_rate_delta_pp"] = np.nan
    out = robustness.leave_one_out(matrix, by=by)
    df = matrix.loc[~matrix["is_baseline"]].sort_values(["base_model", "quant"])
    for _, r in out.iterrows():
        sc = f"{r['safety_metric']}_delta_pp"
        d = c.paired(df, "quality_bertscore_delta_pp", sc, extra=[by])
        keep = d[by].astype(str) != r["dropped"]
        ref = c.correlate(d.loc[keep, "quality_bertscore_delta_pp"], d.loc[keep, sc])
        assert r["n"] == ref["n"] and r["n_dropped"] == int((~keep).sum())
        assert np.array_equal(_bits([r["pearson_r"], r["spearman_p"]]), _bits([ref["pearson_r"], ref["spearman_p"]]))


# ------------------------------------------------------ fits in worker processes
def _many_group_matrix(seed: int = 11, models: int = 14, quants: int = 4) -> pd.DataFrame:
    """A matrix large enough for several fits per scope: two release waves."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(models):
        offset = rng.normal(0, 6)
        for q in range(quants + 1):
            base = q == 0
            x = 0.0 if base else round(float(rng.normal(-3, 4)), 2)
            rows.append({
                "base_model": f"model{m:02d}", "quant": f"Q{q}", "is_baseline": base,
                "release_wave": 1 if m < models // 2 or q < 2 else 2,
                "quality_bertscore_delta_pp": x,
                "quality_rouge_l_delta_pp": 0.0 if base else round(float(rng.normal(-2, 3)), 2),
                "quality_coherence_delta_pp": 0.0 if base else round(float(rng.normal(-1, 2)), 2),
                "safety_refusal_rate_delta_pp": 0.0 if base else round(-0.7 * x + offset + float(rng.normal(0, 2)), 2),
                "judge_refusal_rate_delta_pp": 0.0 if base else round(-0.4 * x + offset + float(rng.normal(0, 3)), 2),
            })
    return pd.DataFrame(rows)


def test_mixed_models_in_worker_processes_equal_one_process(monkeypatch):
    from quant_safety import workers as _workers

    m = _many_group_matrix()
    monkeypatch.setenv("QSAFETY_STATS_WORKERS", "1")
    one = robustness.mixed_models(m)
    calls = []
    real = _workers.run_in_workers

    def counting(fn, tasks, workers, weight=None):
        calls.append((len(tasks), workers))
        return real(fn, tasks, workers, weight=weight)

    monkeypatch.setattr(_workers, "run_in_workers", counting)
    monkeypatch.setenv("QSAFETY_STATS_WORKERS", "2")
    monkeypatch.setenv("QSAFETY_STATS_PARALLEL_MIN_ROWS", "0")
    two = robustness.mixed_models(m)
    assert calls == [(12, 2)]            # 2 scopes x 3 quality x 2 refusal metrics, all fitted
    assert (one["flag"] == "").all() and one["n_groups"].min() >= 7
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    # below the size threshold the fits stay in this process
    monkeypatch.setenv("QSAFETY_STATS_PARALLEL_MIN_ROWS", "100000")
    three = robustness.mixed_models(m)
    assert calls == [(12, 2)]
    pd.testing.assert_frame_equal(one, three, check_exact=True)


def test_worker_split_is_longest_processing_time_first():
    from quant_safety.workers import split

    # by hand: 5->w0, 4->w1, 3(#2)->w1 (4<5), 3(#3)->w0 (5<7), 2->w1 (7<8), 1->w0 (8<9)
    assert split([5, 4, 3, 3, 2, 1], 2) == [[0, 3, 5], [1, 2, 4]]
    assert split([1.0], 2) == [[0]]          # no empty share, no idle worker started
    assert split([2, 2, 2], 3) == [[0], [1], [2]]


def test_worker_failure_raises_with_the_workers_traceback():
    from quant_safety.workers import run_in_workers

    with pytest.raises(RuntimeError, match=r"_mixed_row failed:(.|\n)*TypeError"):
        run_in_workers(robustness._mixed_row, [None, None], 2)
