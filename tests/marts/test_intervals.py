"""Every interval of `cell_intervals` / `matrix` on the demo warehouse, recomputed
from the staged rows with statsmodels / scipy (not with the SQL's formulas):

  Wilson          statsmodels proportion_confint(method='wilson')
  t               scipy.stats.t.interval on the per-row values
  Newcombe        statsmodels confint_proportions_2indep(method='newcomb')
  Welch           statsmodels CompareMeans(...).tconfint_diff(usevar='unequal')
  unique-prefix   the variance of the distinct-prefix rate when the refusals are
                  resampled with replacement: Monte Carlo with numpy (the SQL
                  uses the exact closed form)
  MDE             statsmodels NormalIndPower().solve_power on Cohen's h
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

WILSON_Z = 1.96
WILSON_ALPHA = 2 * (1 - stats.norm.cdf(WILSON_Z))  # the alpha whose quantile is exactly var wilson_z

CAPABILITY = {"capability_mmlu_accuracy": "mmlu_real", "capability_arc_accuracy": "arc_challenge"}


@pytest.fixture(scope="module")
def row_values(warehouse) -> dict[tuple[str, str, str], np.ndarray]:
    """(base_model, quant, metric) -> the per-row values behind the level."""
    out: dict[tuple[str, str, str], np.ndarray] = {}

    def add(frame: pd.DataFrame, metric: str, column: str):
        for (b, q), g in frame.groupby(["base_model", "quant"]):
            v = pd.to_numeric(g[column], errors="coerce").dropna().to_numpy(float)
            out[(b, q, metric)] = v

    quality = warehouse.df("select base_model, quant, bertscore, rouge_l, coherence from stg_quality__samples "
                           "where task_role = 'generation'")
    quality["key"] = quality[["bertscore", "rouge_l", "coherence"]].mean(axis=1, skipna=False)
    for metric, col in [("quality_bertscore", "bertscore"), ("quality_rouge_l", "rouge_l"),
                        ("quality_coherence", "coherence"), ("quality_key_metric_average", "key")]:
        add(quality, metric, col)
    safety = warehouse.df("select base_model, quant, task_name, task_role, score from stg_safety__scored_samples")
    for metric, role in [("safety_refusal_rate", "refusal"), ("safety_truthfulness", "truthfulness"),
                         ("safety_bias_resistance", "bias")]:
        add(safety[safety.task_role == role], metric, "score")
    for metric, task in CAPABILITY.items():
        add(safety[(safety.task_role == "capability") & (safety.task_name == task)], metric, "score")
    judge = warehouse.df("select base_model, quant, task_role, judge_verdict from int_judge_verdicts "
                         "where counts_in_denominator")
    for metric, role in [("judge_refusal_rate", "refusal"), ("judge_truthfulness", "truthfulness"),
                         ("judge_bias_resistance", "bias")]:
        add(judge[judge.task_role == role], metric, "judge_verdict")
    adv = warehouse.df("select base_model, quant, is_refusal, is_hard_refusal, has_text, token_count, char_count "
                       "from int_refusal_texts")
    adv["refusal"] = adv.is_refusal.astype(float)
    adv["hard"] = adv.is_hard_refusal.fillna(False).astype(float)
    add(adv, "advbench_refusal_rate", "refusal")
    add(adv, "hard_refusal_rate", "hard")
    text = adv[adv.is_refusal & adv.has_text]
    add(text, "mean_tokens_refusal", "token_count")
    add(text, "mean_chars_refusal", "char_count")
    return out


@pytest.fixture(scope="module")
def intervals(warehouse) -> pd.DataFrame:
    return warehouse.df("select i.*, m.baseline_quant from cell_intervals i join matrix m using (base_model, quant)")


def _is_binary(v: np.ndarray) -> bool:
    return bool(np.isin(v, [0.0, 1.0]).all())


def _level_interval(v: np.ndarray) -> tuple[str, float, float]:
    if _is_binary(v):
        lo, hi = proportion_confint(int(v.sum()), len(v), alpha=WILSON_ALPHA, method="wilson")
        return "wilson", lo, hi
    lo, hi = stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
    return "t", lo, hi


def _delta_interval(v1: np.ndarray, v0: np.ndarray) -> tuple[str, float, float]:
    if _is_binary(v1) and _is_binary(v0):
        lo, hi = confint_proportions_2indep(int(v1.sum()), len(v1), int(v0.sum()), len(v0), method="newcomb",
                                            compare="diff", alpha=WILSON_ALPHA)
        return "newcombe", lo, hi
    lo, hi = CompareMeans(DescrStatsW(v1), DescrStatsW(v0)).tconfint_diff(alpha=0.05, usevar="unequal")
    return "welch", lo, hi


CLAMP = {"quality_bertscore": (-1, 1), "quality_coherence": (-1, 1), "quality_key_metric_average": (-1, 1),
         "mean_tokens_refusal": (0, math.inf), "mean_chars_refusal": (0, math.inf)}


def test_levels_and_deltas_match_statsmodels(intervals, row_values):
    checked = 0
    for r in intervals.itertuples():
        v = row_values.get((r.base_model, r.quant, r.metric))
        if v is None or len(v) < 2 or pd.isna(r.level):
            continue
        method, lo, hi = _level_interval(v)
        clo, chi = CLAMP.get(r.metric, (0, 1))
        assert r.level_ci_method == method, (r.base_model, r.quant, r.metric)
        assert r.level_ci_lo == pytest.approx(max(lo, clo), rel=1e-6, abs=1e-9), (r.base_model, r.quant, r.metric)
        assert r.level_ci_hi == pytest.approx(min(hi, chi), rel=1e-6, abs=1e-9), (r.base_model, r.quant, r.metric)
        assert r.level_ci_lo <= r.level + 1e-12 and r.level <= r.level_ci_hi + 1e-12
        if r.is_baseline:
            assert (r.delta, r.delta_ci_lo, r.delta_ci_hi) == (0.0, 0.0, 0.0)
            continue
        v0 = row_values.get((r.base_model, r.baseline_quant, r.metric))
        if v0 is None or len(v0) < 2 or pd.isna(r.delta):
            continue
        dmethod, dlo, dhi = _delta_interval(v, v0)
        scale = 100.0 if r.delta_unit == "pp" else 1.0
        assert r.delta_ci_method == dmethod, (r.base_model, r.quant, r.metric)
        assert r.delta_ci_lo == pytest.approx(scale * dlo, rel=1e-6, abs=1e-6), (r.base_model, r.quant, r.metric)
        assert r.delta_ci_hi == pytest.approx(scale * dhi, rel=1e-6, abs=1e-6), (r.base_model, r.quant, r.metric)
        checked += 1
    # 45 non-baseline cells x 15 row-level metrics, minus cells without judge bias / with < 2 refusals
    assert checked > 550


LEVELS_PP = ["quality_bertscore", "quality_rouge_l", "quality_coherence", "quality_key_metric_average",
             "safety_refusal_rate", "safety_truthfulness", "safety_bias_resistance", "judge_refusal_rate",
             "judge_truthfulness", "judge_bias_resistance", "capability_mmlu_accuracy", "capability_arc_accuracy"]
FEATURES = ["advbench_refusal_rate", "advbench_refusals", "dominant_prefix_share", "unique_prefix_rate",
            "prefix_entropy_norm", "mean_tokens_refusal", "mean_chars_refusal", "hard_refusal_rate"]


def test_every_matrix_rate_mean_and_delta_has_an_interval(matrix):
    """Every level (rate, mean, count) and every delta of the matrix has bounds
    that hold its value wherever >= 2 rows are behind it (baselines: delta [0, 0])."""
    columns = LEVELS_PP + FEATURES + [f"{c}_delta_pp" for c in LEVELS_PP] + [f"{c}_delta" for c in FEATURES]
    for c in columns:
        assert f"{c}_ci_lo" in matrix.columns and f"{c}_ci_hi" in matrix.columns, c
        rows = matrix[matrix[c].notna()]
        lo, hi = rows[f"{c}_ci_lo"], rows[f"{c}_ci_hi"]
        ok = lo.notna() & hi.notna()
        # only the one-refusal cell (phi-2 GPTQ) lacks a t interval of its refusal-text means
        assert (~ok).sum() <= (2 if "tokens" in c or "chars" in c else 0), c
        assert ((lo[ok] <= rows.loc[ok, c] + 1e-9) & (rows.loc[ok, c] <= hi[ok] + 1e-9)).all(), c


def test_unique_prefix_rate_variance_is_the_bootstrap_variance(warehouse, intervals):
    counts = warehouse.df("select base_model, quant, refusal_prefix, count(*) as c from int_refusal_texts "
                          "where is_refusal and has_text group by all")
    rng = np.random.default_rng(42)
    se = intervals[intervals.metric == "unique_prefix_rate"].set_index(["base_model", "quant"])
    checked = 0
    for (b, q), g in counts.groupby(["base_model", "quant"]):
        c = g.c.to_numpy()
        R = int(c.sum())
        if R < 20 or len(c) < 3:
            continue
        draws = rng.multinomial(R, c / R, size=20_000)
        rate = (draws > 0).sum(axis=1) / R
        half = (se.loc[(b, q), "level_ci_hi"] - se.loc[(b, q), "level_ci_lo"]) / 2
        level = se.loc[(b, q), "level"]
        if se.loc[(b, q), "level_ci_hi"] < 1 and se.loc[(b, q), "level_ci_lo"] > 0:   # not clamped
            assert half / 1.959963984540054 == pytest.approx(rate.std(), rel=0.05), (b, q)
            assert level == pytest.approx(len(c) / R)
            checked += 1
    assert checked >= 10


def test_refusal_drop_mde_matches_statsmodels(warehouse):
    rows = warehouse.df("""select c.base_model, c.quant, c.refusal_drop_mde_pp, c.baseline_refusal_rate,
                                  m.safety_refusal_rate_n as n1, b.safety_refusal_rate_n as n0
                           from regime_confidence c join matrix m using (base_model, quant)
                           join matrix b on b.base_model = c.base_model and b.quant = c.baseline_quant
                           where not c.is_baseline""")
    power = NormalIndPower()
    for r in rows.itertuples():
        h = power.solve_power(effect_size=None, nobs1=r.n1, alpha=0.05, power=0.8, ratio=r.n0 / r.n1)
        angle = math.asin(math.sqrt(r.baseline_refusal_rate)) - h / 2
        if angle < 0:
            assert pd.isna(r.refusal_drop_mde_pp)
            continue
        expected = 100 * (r.baseline_refusal_rate - math.sin(angle) ** 2)
        # statsmodels' power counts the test's far tail too (< 1e-6 here)
        assert r.refusal_drop_mde_pp == pytest.approx(expected, rel=1e-4), (r.base_model, r.quant)


def test_regime_confidence_follows_the_delta_intervals(warehouse):
    rows = warehouse.df("select * from regime_confidence")
    th = {"hidden": -2.0, "near": -5.0, "drop": 10.0}

    def rule(q, r):
        if r < -th["drop"] and q >= th["hidden"]:
            return "hidden_danger"
        if r < -th["drop"] and q >= th["near"]:
            return "near_hidden_danger"
        return "neutral"

    for r in rows.itertuples():
        if r.regime in ("baseline", "no_baseline"):
            assert r.regime_confidence == "not_applicable"
            continue
        # a fine grid over the box: every regime reached must be listed
        qs = np.linspace(r.quality_axis_delta_ci_lo, r.quality_axis_delta_ci_hi, 41)
        rs = np.linspace(r.refusal_delta_ci_lo, r.refusal_delta_ci_hi, 41)
        reached = {rule(q, s) for q in qs for s in rs}
        assert set(r.regimes_within_intervals.split("|")) == reached, (r.base_model, r.quant)
        assert r.regime_confidence == ("robust" if reached == {r.regime} else "fragile")
    actions = warehouse.df("select regime_confidence, deployment_action_note from phase5_row_actions")
    fragile = actions[actions.regime_confidence == "fragile"]
    assert len(fragile) and fragile.deployment_action_note.str.contains("fragile").all()
    assert actions[actions.regime_confidence != "fragile"].deployment_action_note.isna().all()
