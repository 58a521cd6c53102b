"""Robustness checks of TR142 SS16-SS19: leave-one-out, repeated-measures, mixed models.

All three work on non-baseline DELTAS in percentage points
(``<metric>_delta_pp``), per scope (``all_cells``, ``through_wave_<w>``).

leave_one_out (SS16/SS17, Tables 16/17)
    Pooled Pearson/Spearman of the quality delta vs a refusal delta with each
    level of ``by`` (every quant or every base_model present) dropped, plus a
    ``'none'`` row.  ``pearson_sign_flips`` compares the sign of r with the
    ``'none'`` row.  Both regex and judge refusal by default (SS16.2).
    Reference data, 41-cell scope: Table 16 (AWQ 38/+0.257, GPTQ 37/+0.309,
    Q2_K 35/-0.195 sign flip) and Table 17 (llama3.2-1b 33/+0.489, llama3.2-3b
    33/+0.148, mistral-7b 36/+0.109) reproduce to 3 dp, as does SS16.2's judge
    values (judge refusal: dropping AWQ r = -0.0000 p 1.00, dropping GPTQ
    r = +0.035 p 0.84).  Spearman rho differs by up to 0.002 (ties among the
    2-dp published deltas).  The judge delta is missing for the two wave-2
    qwen2.5-7b cells, so judge rows have n = 43 on ``all_cells``.

repeated_measures (SS18, Table 18)
    ``pingouin.rm_corr`` with subject = base_model, quality in {BERTScore,
    ROUGE-L, coherence} x refusal in {regex, judge}.  On the 41-cell scope all
    six rows of Table 18 reproduce (r, p, CI, power; dof = 41 - 6 - 1 = 34).
    rm_corr is invariant to a per-model shift and to a common rescale, so delta
    (pp) vs level gives the same r up to the rounding of the published deltas.
    On ``all_cells`` (45 cells) BERTScore has n = 45 but ROUGE-L/coherence stay
    at n = 41 because the four wave-2 cells have no ROUGE-L/coherence.
    Table 18's "n = 41" therefore belongs to the 47-cell bundle.

mixed_models (SS19)
    ``statsmodels`` MixedLM ``safety ~ quality`` with a random intercept per
    base_model, both in pp deltas.  Reading of Table 19: the published
    coefficients (+0.775, -0.861, -0.953) are, to 3 dp, the WITHIN-model
    (fixed-effects, model-demeaned) slopes, and the published p-values / CIs
    are those slopes with maximum-likelihood (``reml=False``) standard errors.
    That is what statsmodels returns when the optimiser (lbfgs) runs into a
    degenerate point where the random-intercept variance is effectively
    infinite relative to the residual (the log-likelihood is reported as
    +inf, the intercept SE ~ 5e8) and ``Group Var`` is *printed* as 0.  So the
    report's "group variance collapsed to zero" is an artefact of a degenerate
    fit, not a boundary MLE: the genuine ML optimum on the same data (41
    cells) has a group variance of ~17-24 pp^2 and coefficients +0.613
    (p 0.406), -0.792 (p 0.027), -0.957 (p 0.072) -- the same signs and
    significance verdicts as Table 19, smaller magnitudes.  (REML with lbfgs
    lands on the same degenerate point: slopes +0.774/-0.861/-0.954 with REML
    SEs, p 0.339/0.020/0.075, which is why p differs from Table 19 under REML.)

    This implementation fits with ML (``reml=False``, as the report did)
    with powell, bfgs as the fallback, and only when neither converges to a
    non-degenerate fit also lbfgs, nm and cg, keeping the fit with the highest
    FINITE log-likelihood among the converged, non-degenerate fits tried (the
    best of all five agrees with the first good one to ~1e-8 on the demo and
    x10 matrices; running all five took five times as long); it also reports the
    within-model slope (``within_slope``) and the fit of statsmodels' default
    optimiser, lbfgs, when it is degenerate (``degenerate_fit_coefficient`` /
    ``degenerate_fit_p``: what the report printed; lbfgs is fitted for this
    record when the fast pair made it unnecessary for the kept fit) so Table
    19's numbers can be compared directly.  Convergence/singularity warnings are caught and reported in
    ``warning``; nothing is printed.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ._common import (
    FLAG_CONSTANT,
    FLAG_MISSING_COLUMN,
    FLAG_N_LT_3,
    FLAG_OK,
    QUALITY_METRICS,
    REFUSAL_METRICS,
    correlate,
    delta_col,
    float_values,
    has_columns,
    is_constant,
    iter_scopes,
    map_fits,
    metric_name,
    paired,
    safety_source,
    sign_of,
    sort_rows,
)
from .fit_cache import memo, memo_map

NONE = "none"
FLAG_SUBJECTS_LT_3 = "n_subjects_lt_3"

LOO_COLUMNS = [
    "scope",
    "by",
    "quality_metric",
    "safety_metric",
    "safety_source",
    "dropped",
    "n",
    "n_dropped",
    "pearson_r",
    "pearson_p",
    "spearman_rho",
    "spearman_p",
    "pearson_sign_flips",
    "spearman_sign_flips",
    "flag",
]


def _as_list(v) -> list[str]:
    if isinstance(v, str):
        return [v]
    return list(v)


def leave_one_out(
    matrix: pd.DataFrame,
    by: str = "quant",
    quality: str = "quality_bertscore_delta_pp",
    safety: str | Sequence[str] = ("safety_refusal_rate_delta_pp", "judge_refusal_rate_delta_pp"),
    scopes: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Leave-one-``by``-out pooled correlations (``by`` = 'quant' or 'base_model').

    ``safety`` may be one column or a sequence (default: regex AND judge
    refusal delta).  Levels are those present among the scope's non-baseline
    cells; ``n_dropped`` counts the removed cells with a finite pair.
    """
    if by not in ("quant", "base_model"):
        raise ValueError("by must be 'quant' or 'base_model'")
    rows = []
    qc = delta_col(quality)
    for scope, df in iter_scopes(matrix):
        if scopes is not None and scope not in scopes:
            continue
        for s in _as_list(safety):
            sc = delta_col(s)
            base = {
                "scope": scope,
                "by": by,
                "quality_metric": metric_name(qc),
                "safety_metric": metric_name(sc),
                "safety_source": safety_source(sc),
            }
            if not has_columns(df, qc, sc, by):
                rows.append({**base, "dropped": NONE, **correlate([], []), "n_dropped": 0,
                             "flag": FLAG_MISSING_COLUMN})
                continue
            data = paired(df, qc, sc, extra=[by])
            xv, yv = float_values(data, qc), float_values(data, sc)
            ref = correlate(xv, yv)
            rows.append({**base, "dropped": NONE, "n_dropped": 0, **ref})
            levels = sorted(df[by].dropna().astype(str).unique())
            # keep = (data[by].astype(str) != lev), from one factorisation of the labels
            codes, uniques = pd.factorize(data[by].astype(str), use_na_sentinel=True)
            codes = np.asarray(codes)
            code_of = {u: i for i, u in enumerate(uniques)}
            for lev in levels:
                keep = codes != code_of.get(lev, -2)
                res = correlate(xv[keep], yv[keep])
                rows.append({**base, "dropped": lev, "n_dropped": int((~keep).sum()), **res})
            # sign flips vs the 'none' row of this (scope, safety)
            for r in rows:
                if r["scope"] == scope and r["safety_metric"] == base["safety_metric"] and r["by"] == by:
                    for stat, col in (("pearson_r", "pearson_sign_flips"), ("spearman_rho", "spearman_sign_flips")):
                        a, b = sign_of(ref[stat]), sign_of(r[stat])
                        r[col] = bool(a != 0 and b != 0 and a != b)
    out = pd.DataFrame(rows, columns=LOO_COLUMNS)
    for c in ("pearson_sign_flips", "spearman_sign_flips"):
        out[c] = out[c].fillna(False).astype(bool)
    return sort_rows(out, ["scope", "by", "quality_metric", "safety_metric", "dropped"],
                     first={"dropped": [NONE]})


RM_COLUMNS = [
    "scope",
    "quality_metric",
    "safety_metric",
    "safety_source",
    "n",
    "n_subjects",
    "r",
    "p",
    "ci95_lo",
    "ci95_hi",
    "dof",
    "power",
    "flag",
]


def _rm_corr_fit(x: np.ndarray, y: np.ndarray, subject: np.ndarray) -> dict:
    """pingouin.rm_corr of y on x within subjects: r, p, CI95, dof, power."""
    import pingouin as pg

    data = pd.DataFrame({"x": x, "y": y, "subject": subject})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pg.rm_corr(data=data, x="x", y="y", subject="subject")
    ci = res["CI95"].iloc[0] if "CI95" in res.columns else res["CI95%"].iloc[0]
    return {"r": float(res["r"].iloc[0]), "p": float(res["pval"].iloc[0]), "ci95_lo": float(ci[0]),
            "ci95_hi": float(ci[1]), "dof": int(res["dof"].iloc[0]), "power": float(res["power"].iloc[0])}


def repeated_measures(
    matrix: pd.DataFrame,
    quality_metrics=QUALITY_METRICS,
    safety_metrics=REFUSAL_METRICS,
    subject: str = "base_model",
) -> pd.DataFrame:
    """Repeated-measures correlation (pingouin.rm_corr, subject = base_model) on pp deltas.

    Subjects with a single complete cell carry no within-subject information
    and are dropped before the call; ``n``/``n_subjects`` count what entered.
    Fewer than 3 subjects (pingouin's minimum) gives NaN + ``n_subjects_lt_3``.
    dof = n - n_subjects - 1; dof < 1 or a constant input gives NaN + flag.
    """
    rows = []
    for scope, df in iter_scopes(matrix):
        for q in quality_metrics:
            for s in safety_metrics:
                qc, sc = delta_col(q), delta_col(s)
                base = {"scope": scope, "quality_metric": q, "safety_metric": s,
                        "safety_source": safety_source(s)}
                nan = {"r": math.nan, "p": math.nan, "ci95_lo": math.nan, "ci95_hi": math.nan,
                       "dof": math.nan, "power": math.nan}
                if not has_columns(df, qc, sc, subject):
                    rows.append({**base, "n": 0, "n_subjects": 0, **nan, "flag": FLAG_MISSING_COLUMN})
                    continue
                data = paired(df, qc, sc, extra=[subject]).dropna(subset=[subject])
                sizes = data.groupby(subject)[qc].transform("size")
                data = data.loc[sizes >= 2]
                n, k = len(data), int(data[subject].nunique())
                dof = n - k - 1
                # within-subject variation must exist in both variables
                wq = data[qc] - data.groupby(subject)[qc].transform("mean")
                ws = data[sc] - data.groupby(subject)[sc].transform("mean")
                if k < 1 or dof < 1:
                    rows.append({**base, "n": n, "n_subjects": k, **nan, "flag": FLAG_N_LT_3})
                    continue
                if k < 3:  # pingouin.rm_corr refuses fewer than 3 subjects
                    rows.append({**base, "n": n, "n_subjects": k, **nan, "dof": dof,
                                 "flag": FLAG_SUBJECTS_LT_3})
                    continue
                if np.allclose(wq, 0) or np.allclose(ws, 0):
                    rows.append({**base, "n": n, "n_subjects": k, **nan, "dof": dof, "flag": FLAG_CONSTANT})
                    continue
                # a fit is a function of its (x, y, subject) rows only: an unchanged scope's
                # fits come from the last build's cache (fit_cache)
                fit = memo("rm_corr", _rm_corr_fit, data[qc].to_numpy(dtype=float),
                           data[sc].to_numpy(dtype=float), data[subject].to_numpy().astype(str))
                rows.append({**base, "n": n, "n_subjects": k, **fit, "flag": FLAG_OK})
    out = pd.DataFrame(rows, columns=RM_COLUMNS)
    return sort_rows(out, ["scope", "quality_metric", "safety_metric"])


MIXED_COLUMNS = [
    "scope",
    "quality_metric",
    "safety_metric",
    "safety_source",
    "n",
    "n_groups",
    "coefficient",
    "p",
    "ci95_lo",
    "ci95_hi",
    "intercept",
    "group_variance",
    "group_variance_collapsed",
    "residual_variance",
    "log_likelihood",
    "converged",
    "optimizer",
    "within_slope",
    "degenerate_fit_coefficient",
    "degenerate_fit_p",
    "warning",
    "flag",
]

# Tried in this order, stopping at the first converged, non-degenerate fit: powell (derivative-
# free; lands on the genuine ML optimum where lbfgs runs into the degenerate point of Table 19),
# bfgs as the fallback, and only when neither gives a good fit the other three, the best of all
# tried then kept (the rule below). On the demo and the x10 matrix the powell/bfgs fit equals the
# best of all five to ~1e-8 in the coefficient and ~2e-8 in the log-likelihood, at a fifth of the
# fitting time.
OPTIMIZERS = ("powell", "bfgs", "lbfgs", "nm", "cg")
FAST_OPTIMIZERS = 2


def _within_slope(data: pd.DataFrame, x: str, y: str, group: str) -> float:
    dx = data[x] - data.groupby(group)[x].transform("mean")
    dy = data[y] - data.groupby(group)[y].transform("mean")
    den = float((dx * dx).sum())
    return float((dx * dy).sum()) / den if den > 0 else math.nan


def _fit_mixed(data: pd.DataFrame, reml: bool):
    """Fit with powell, then bfgs, then (only if neither gave a converged non-degenerate fit)
    the other optimisers; return (kept result or None, optimiser, messages, lbfgs's result
    when it is degenerate, else None)."""
    import statsmodels.formula.api as smf

    messages: list[str] = []
    candidates = []
    # ``warning`` records what each optimiser that ran did.
    # One model (design matrices, per-group blocks) for all optimisers: MixedLM.fit
    # resets every attribute it uses (reml, penalties, free pattern, singularity
    # counter) and starts each optimiser from the same fixed start values, so a
    # fit does not depend on the fits before it on the same model.
    model = None
    model_error: Exception | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = smf.mixedlm("y ~ x", data, groups=data["g"])
        except Exception as exc:  # noqa: BLE001 - reported per optimiser below, as before
            model_error = exc
    del caught
    for number, opt in enumerate(OPTIMIZERS):
        if 1 <= number <= FAST_OPTIMIZERS and any(c[3] and not c[4] for c in candidates):
            break   # the first good fit of the fast pair; past it, every optimiser runs
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if model_error is not None:
                    raise model_error
                res = model.fit(reml=reml, method=opt)
            except Exception as exc:  # noqa: BLE001 - any optimiser failure is data, not a crash
                messages.append(f"{opt}: {type(exc).__name__}: {exc}")
                if model is not None:  # drop a cache a failed fit may have left half-built
                    model.__dict__.pop("_endex_li", None)
                continue
        # The warnings text itself is not recorded: dbt runs Python models in
        # threads and warnings capture is process-global, so which messages land
        # here would vary between runs. What the fit did is recorded instead.
        del caught
        if not res.converged:
            messages.append(f"{opt}: not converged")
        llf = float(res.llf)  # computed from the model now, before the next optimiser's fit
        try:
            icpt_se = float(res.bse["Intercept"])
        except Exception:  # noqa: BLE001
            icpt_se = math.nan
        degenerate = (not np.isfinite(llf)) or (not np.isfinite(icpt_se)) or icpt_se > 1e6
        if degenerate:
            messages.append(f"{opt}: degenerate fit (non-finite log-likelihood or intercept SE)")
        candidates.append((opt, res, llf, bool(res.converged), degenerate))
    if not candidates:
        return None, "", messages, None
    good = [c for c in candidates if c[3] and not c[4]]
    pool = good or [c for c in candidates if not c[4]] or candidates
    # highest finite log-likelihood; ties broken by optimiser order (stable)
    best = max(pool, key=lambda c: (c[2] if np.isfinite(c[2]) else -np.inf, -OPTIMIZERS.index(c[0])))
    if not good:
        messages.append("no converged non-degenerate fit")
    # lbfgs (statsmodels' default) when it degenerates: what the report printed. Fitted
    # here when the fast pair already gave the kept fit; never a candidate for it.
    lbfgs = next((c for c in candidates if c[0] == "lbfgs"), None)
    if lbfgs is None and model is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = model.fit(reml=reml, method="lbfgs")
                llf = float(res.llf)
                try:
                    icpt_se = float(res.bse["Intercept"])
                except Exception:  # noqa: BLE001
                    icpt_se = math.nan
                lbfgs = ("lbfgs", res, llf, bool(res.converged),
                         (not np.isfinite(llf)) or (not np.isfinite(icpt_se)) or icpt_se > 1e6)
            except Exception:  # noqa: BLE001 - no degenerate-fit record then
                model.__dict__.pop("_endex_li", None)
        del caught
    degenerate = lbfgs[1] if lbfgs is not None and lbfgs[4] else None
    return best[1], best[0], messages, degenerate


def _mixed_row(task: tuple[dict, dict, pd.DataFrame, bool]) -> dict:
    """One table row: fit ``y ~ x`` (random intercept per ``g``) on one scope x metric pair."""
    base, info, data, reml = task
    empty = _mixed_empty(base)
    res, opt, msgs, degenerate = _fit_mixed(data, reml=reml)
    within = _within_slope(data, "x", "y", "g")
    degenerate_fit = {
        "degenerate_fit_coefficient": float(degenerate.params["x"]) if degenerate is not None else math.nan,
        "degenerate_fit_p": float(degenerate.pvalues["x"]) if degenerate is not None else math.nan,
    }
    if res is None:
        return {**base, **empty, **info, "within_slope": within, **degenerate_fit, "warning": "; ".join(msgs),
                "flag": "fit_failed"}
    ci = res.conf_int().loc["x"]
    gv = float(np.asarray(res.cov_re)[0, 0])
    return {
        **base,
        **info,
        "coefficient": float(res.params["x"]),
        "p": float(res.pvalues["x"]),
        "ci95_lo": float(ci.iloc[0]),
        "ci95_hi": float(ci.iloc[1]),
        "intercept": float(res.params["Intercept"]),
        "group_variance": gv,
        "group_variance_collapsed": bool(gv < 1e-6),
        "residual_variance": float(res.scale),
        "log_likelihood": float(res.llf),
        "converged": bool(res.converged),
        "optimizer": opt,
        "within_slope": within,
        **degenerate_fit,
        "warning": "; ".join(msgs),
        "flag": FLAG_OK,
    }


def _mixed_empty(base: dict) -> dict:
    """The columns of a row without a fit (NaN, flags false), without the keys of ``base``."""
    empty = {c: math.nan for c in MIXED_COLUMNS if c not in base}
    empty.update({"converged": False, "group_variance_collapsed": False, "optimizer": "",
                  "warning": "", "n": 0, "n_groups": 0})
    return empty


def mixed_models(
    matrix: pd.DataFrame,
    quality_metrics=QUALITY_METRICS,
    safety_metrics=REFUSAL_METRICS,
    group: str = "base_model",
    reml: bool = False,
) -> pd.DataFrame:
    """MixedLM ``safety_delta_pp ~ quality_delta_pp`` + random intercept per base_model.

    See the module docstring for why ML is the default and why Table 19's
    coefficients equal ``within_slope``.  ``group_variance`` is the estimated
    random-intercept variance (pp^2); ``group_variance_collapsed`` is
    ``group_variance < 1e-6``.  Needs >= 2 groups and n >= 4.

    The fits are independent of each other; on a large matrix they run in
    worker processes (``map_fits``), with the same results as one by one.
    """
    rows: list[dict | None] = []
    tasks: list[tuple[dict, dict, pd.DataFrame, bool]] = []
    for scope, df in iter_scopes(matrix):
        for q in quality_metrics:
            for s in safety_metrics:
                qc, sc = delta_col(q), delta_col(s)
                base = {"scope": scope, "quality_metric": q, "safety_metric": s,
                        "safety_source": safety_source(s)}
                empty = _mixed_empty(base)
                if not has_columns(df, qc, sc, group):
                    rows.append({**base, **empty, "flag": FLAG_MISSING_COLUMN})
                    continue
                data = paired(df, qc, sc, extra=[group]).dropna(subset=[group])
                data = pd.DataFrame({"x": data[qc].to_numpy(), "y": data[sc].to_numpy(),
                                     "g": data[group].astype(str).to_numpy()})
                data = data.sort_values(["g", "x", "y"], kind="mergesort").reset_index(drop=True)
                n, k = len(data), int(data["g"].nunique())
                info = {"n": n, "n_groups": k}
                if n < 4 or k < 2:
                    rows.append({**base, **empty, **info, "flag": FLAG_N_LT_3})
                    continue
                if is_constant(data["x"].to_numpy()) or is_constant(data["y"].to_numpy()):
                    rows.append({**base, **empty, **info, "flag": FLAG_CONSTANT})
                    continue
                rows.append(None)   # filled from the fit below, in this order
                tasks.append((base, info, data, reml))
    def fit(indices: list[int]) -> list[dict]:
        todo = [tasks[i] for i in indices]
        # a fit's cost grows with rows x groups (statsmodels loops over the groups)
        done = map_fits(_mixed_row, todo, size=sum(len(t[2]) for t in todo),
                        weight=lambda t: t[1]["n"] * t[1]["n_groups"])
        return [{k: v for k, v in row.items() if k not in t[0] and k not in t[1]} for t, row in zip(todo, done)]

    # a fit is a function of its (x, y, group) rows and reml only: the fits of a scope whose
    # rows did not change since the last build (an earlier wave's, when a cell of the last
    # wave is added) come from its cache (fit_cache)
    arrays = [(t[2]["x"].to_numpy(), t[2]["y"].to_numpy(), t[2]["g"].to_numpy().astype(str)) for t in tasks]
    fitted = iter({**t[0], **t[1], **values}
                  for t, values in zip(tasks, memo_map(f"mixed_lm:reml={reml}", fit, arrays)))
    rows = [r if r is not None else next(fitted) for r in rows]
    out = pd.DataFrame(rows, columns=MIXED_COLUMNS)
    return sort_rows(out, ["scope", "quality_metric", "safety_metric"])
