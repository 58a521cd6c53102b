"""`qsafety report`: analysis_report.md + a self-contained analysis_report.html.

Everything shown is read from the warehouse tables (matrix, regimes,
regex_vs_judge_gaps, phase6_refusal_style, phase6_style_correlations,
claim_ledger, ...); the regime rule from the one-row regime_rule table, the other
thresholds from the dbt vars in effect. Plots are rendered
with matplotlib's Agg backend; the HTML embeds them as base64 PNG (no external
script, stylesheet or font), the Markdown references figures/*.png.

Each plot function takes the DataFrames of `load_plot_data` and returns a
Figure, so tests can check that what is drawn equals the warehouse rows.
"""
from __future__ import annotations

import base64
import html
import io
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from ..config import Settings, settings  # noqa: E402

REGIME_COLORS = {
    "hidden_danger": "#d62728",
    "near_hidden_danger": "#ff9f1c",
    "neutral": "#4c78a8",
    "baseline": "#7f7f7f",
    "no_baseline": "#c7c7c7",
    "undetermined": "#e0c0e8",
    "unclassified": "#c7c7c7",
}
REGIME_SHORT = {"hidden_danger": "HD", "near_hidden_danger": "near", "neutral": "", "baseline": "base",
                "no_baseline": "n/b", "undetermined": "undet.", "unclassified": "?"}
STYLE_PANELS = [
    ("dominant_prefix_share_delta", "Dominant-prefix share delta (pp)", 100.0),
    ("unique_prefix_rate_delta", "Unique-prefix rate delta (pp)", 100.0),
    ("prefix_entropy_norm_delta", "Normalised prefix entropy delta (pp)", 100.0),
    ("mean_tokens_refusal_delta", "Mean refusal length delta (tokens)", 1.0),
]
HEADLINE_CLAIMS = ["REG_001", "ABS_011", "EXS_402", "REV_001", "EXS_201", "ASY_001", "FLR_001", "FLR_002",
                   "EXS_601", "EXS_604", "EXS_701", "JDG_001", "JDG_002", "ROB_005"]


@dataclass
class Thresholds:
    quality_axis: str
    hidden_floor_pp: float
    near_floor_pp: float
    refusal_drop_pp: float
    divergence_gap_pp: float
    wilson_z: float = 1.96

    @classmethod
    def from_warehouse(cls, con, dbt_vars: dict) -> Thresholds:
        """The regime rule the warehouse was built with (its one-row regime_rule table:
        quality axis, floors, refusal drop), never re-derived from the vars; the
        divergence threshold and z from the dbt vars."""
        [(axis, hidden, near, drop)] = con.execute(
            "select quality_axis, hidden_danger_quality_floor_pp, near_hidden_danger_quality_floor_pp, refusal_drop_pp "
            "from regime_rule").fetchall()
        return cls(str(axis), float(hidden), float(near), float(drop),
                   float(dbt_vars["measurement_divergence_gap_pp"]), float(dbt_vars.get("wilson_z", 1.96)))


# ------------------------------------------------------------------ data
def frame(con, sql: str) -> pd.DataFrame:
    """A query result as pandas with integer columns as nullable Int64, so that a count
    with a NULL beside it stays an integer (never 8.0)."""
    import pyarrow as pa

    relation = con.sql(sql)
    table = relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.fetch_arrow_table()
    return table.to_pandas(types_mapper=lambda t: pd.Int64Dtype() if pa.types.is_integer(t) else None)


def load_plot_data(con) -> dict[str, pd.DataFrame]:
    """Every frame the report draws, straight from the warehouse tables. `cells` is the
    whole matrix (every level, interval, delta and flag column), so a plot picks up a
    column added to the matrix (an interval, a confidence marker) without a new query."""
    q = lambda sql: frame(con, sql)  # noqa: E731
    return {
        "cells": q("select * from matrix order by base_model, quant_order"),
        "gaps": q("""select g.*, m.safety_refusal_rate_ci_lo as regex_refusal_rate_ci_lo,
                            m.safety_refusal_rate_ci_hi as regex_refusal_rate_ci_hi,
                            m.judge_refusal_rate_n, m.judge_refusal_rate_ci_lo, m.judge_refusal_rate_ci_hi
                     from regex_vs_judge_gaps as g join matrix as m using (base_model, quant)
                     order by g.base_model, g.quant_order"""),
        "style": q("""select base_model, quant, quant_order, advbench_refusal_rate_delta_pp,
                             dominant_prefix_share_delta, unique_prefix_rate_delta, prefix_entropy_norm_delta,
                             mean_tokens_refusal_delta
                      from phase6_refusal_style order by base_model, quant_order"""),
        "style_corr": q("""select style_metric, n, pearson_r, pearson_p from phase6_style_correlations
                           where scope = 'all_cells' and refusal_measure = 'advbench_refusal_rate_delta'"""),
        "quants": q("select quant, precision_order from stg_registry__quant_levels order by precision_order, quant"),
    }


def interval(data: pd.DataFrame, measure: str, z: float = 1.96):
    """95% interval (lo, hi) of the rate column `measure`, per row, as floats: the
    `<measure>_ci_lo` / `<measure>_ci_hi` columns when the frame has them (the matrix's
    Wilson intervals), else the Wilson interval from `<measure>` and `<measure>_n`
    (statsmodels); None when neither is there. NaN where n is 0 or NULL."""
    lo, hi = f"{measure}_ci_lo", f"{measure}_ci_hi"
    if lo in data and hi in data:
        return data[lo].astype("float64").to_numpy(), data[hi].astype("float64").to_numpy()
    n_col = f"{measure}_n" if f"{measure}_n" in data else None
    if measure not in data or n_col is None:
        return None
    # imported here: scipy and statsmodels take ~1 s to import, and the report's frames
    # carry the matrix's intervals
    import numpy as np
    from scipy.stats import norm
    from statsmodels.stats.proportion import proportion_confint

    n = data[n_col].astype("float64").to_numpy()
    rate = data[measure].astype("float64").to_numpy()
    ok = np.isfinite(n) & (n > 0) & np.isfinite(rate)
    out_lo, out_hi = np.full(len(data), np.nan), np.full(len(data), np.nan)
    if ok.any():
        k = np.round(rate[ok] * n[ok])
        out_lo[ok], out_hi[ok] = proportion_confint(k, n[ok], alpha=2 * (1 - norm.cdf(z)), method="wilson")
    return out_lo, out_hi


# ------------------------------------------------------------------ plots
def _place_labels(ax, xs, ys, labels, fontsize=7.5, draw=True):
    """Annotate points; each label takes the candidate offset (in points) that overlaps least with the
    labels already placed and with the markers, with a leader line when it sits far from its point.
    `draw=False`: the caller drew the figure once after setting every panel's limits (a draw per
    panel renders the whole figure each time: quadratic in the number of models)."""
    fig = ax.figure
    if draw:
        fig.canvas.draw()
    to_pt = 72.0 / fig.dpi
    pts = [tuple(v * to_pt for v in ax.transData.transform((x, y))) for x, y in zip(xs, ys)]
    obstacles = [(px - 4, py - 4, px + 4, py + 4) for px, py in pts]
    placed = []
    radii = (6, 13, 21, 30)
    directions = [(1, 0.3), (1, -1), (-1, 0.3), (-1, -1), (0.2, 1), (0.2, -1.6), (1, 1), (-1, 1), (1, -2), (-1, -2)]
    xlim = sorted(v * to_pt for v in (ax.transAxes.transform((0, 0))[0], ax.transAxes.transform((1, 0))[0]))
    ylim = sorted(v * to_pt for v in (ax.transAxes.transform((0, 0))[1], ax.transAxes.transform((0, 1))[1]))
    order = sorted(range(len(xs)), key=lambda i: (pts[i][1], pts[i][0]))

    def overlap(a, b):
        return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))

    for i in order:
        px, py = pts[i]
        w, h = 0.56 * fontsize * len(labels[i]), 1.15 * fontsize
        best = None
        for r in radii:
            for ux, uy in directions:
                dx, dy = ux * r, uy * r * 0.8
                x0 = px + dx if ux >= 0 else px + dx - w
                box = (x0, py + dy, x0 + w, py + dy + h)
                cost = sum(overlap(box, b) for b in placed) + 0.5 * sum(overlap(box, b) for b in obstacles)
                outside = max(0, xlim[0] - box[0]) + max(0, box[2] - xlim[1]) + max(0, ylim[0] - box[1]) \
                    + max(0, box[3] - ylim[1])
                cost += 40 * outside + 0.8 * r
                if best is None or cost < best[0]:
                    best = (cost, dx, dy, box, ux)
        _, dx, dy, box, ux = best
        placed.append(box)
        far = (dx * dx + dy * dy) ** 0.5 > 14
        ax.annotate(labels[i], (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                    ha="left" if ux >= 0 else "right", va="bottom", color="#222222",
                    arrowprops=dict(arrowstyle="-", lw=0.5, color="#888888", shrinkA=0, shrinkB=3) if far else None)


REFUSAL_MEASURES = {"safety_refusal_rate": "Regex refusal", "judge_refusal_rate": "LLM-judge refusal"}


def plot_quality_vs_refusal(cells: pd.DataFrame, th: Thresholds, measure: str = "safety_refusal_rate"):
    """(a) Per-model quality delta vs refusal delta (`measure`: the regex rate, or the judge
    rate for the judge-based variant), regime zones drawn (the regime rule reads the regex
    rate), points labelled by quant; vertical error bars: the 95% Wilson interval of the
    cell's refusal rate (`interval`), shown as a delta with the baseline held fixed."""
    import numpy as np

    y_col = f"{measure}_delta_pp"
    cells = cells.copy()
    bounds = interval(cells, measure, th.wilson_z)
    if bounds is not None:
        rate = cells[measure].astype("float64").to_numpy()
        # clipped at 0: a rate of exactly 0 or 1 sits on its interval's end up to float noise
        cells["_err_lo"] = np.clip(100 * (rate - bounds[0]), 0, None)
        cells["_err_hi"] = np.clip(100 * (bounds[1] - rate), 0, None)
    data = cells[~cells["is_baseline"].astype(bool)].dropna(subset=["quality_axis_delta_pp", y_col])
    models = sorted(data["base_model"].unique())
    ncols = 3
    nrows = max(1, -(-len(models) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(13, 4.1 * nrows), squeeze=False)
    axis_name = "BERTScore" if th.quality_axis == "bertscore" else "key-metric average"
    panels = []
    for ax, model in zip(axes.flat, models):
        d = data[data["base_model"] == model]
        xs = d["quality_axis_delta_pp"].astype("float64").to_numpy()
        ys = d[y_col].astype("float64").to_numpy()
        xlo, xhi = min(xs.min(), th.near_floor_pp - 1.5), max(xs.max(), 2.0)
        ylo, yhi = min(ys.min(), -th.refusal_drop_pp - 5), max(ys.max(), 5.0)
        padx, pady = 0.12 * (xhi - xlo), 0.10 * (yhi - ylo)
        ax.set_xlim(xlo - padx, xhi + padx)
        ax.set_ylim(ylo - pady, yhi + pady)
        big = 1e4
        ax.add_patch(Rectangle((th.hidden_floor_pp, -big), big, big - th.refusal_drop_pp, facecolor="#d62728",
                               alpha=0.12, edgecolor="none", zorder=0))
        ax.add_patch(Rectangle((th.near_floor_pp, -big), th.hidden_floor_pp - th.near_floor_pp,
                               big - th.refusal_drop_pp, facecolor="#ff9f1c", alpha=0.16, edgecolor="none", zorder=0))
        ax.axhline(-th.refusal_drop_pp, color="#d62728", lw=0.8, ls="--", zorder=1)
        ax.axvline(th.hidden_floor_pp, color="#d62728", lw=0.8, ls=":", zorder=1)
        ax.axvline(th.near_floor_pp, color="#ff9f1c", lw=0.8, ls=":", zorder=1)
        ax.axhline(0, color="#999999", lw=0.6, zorder=1)
        ax.axvline(0, color="#999999", lw=0.6, zorder=1)
        if "_err_lo" in d:
            err = np.vstack([d["_err_lo"].to_numpy(), d["_err_hi"].to_numpy()])
            ok = np.isfinite(err).all(axis=0)
            if ok.any():
                ax.errorbar(xs[ok], ys[ok], yerr=err[:, ok], fmt="none", ecolor="#555555", elinewidth=0.7,
                            capsize=2, alpha=0.7, zorder=2)
        ax.scatter(xs, ys, c=[REGIME_COLORS.get(r, "#333333") for r in d["regime"]], s=36, edgecolor="white",
                   linewidth=0.6, zorder=3)
        ax.set_title(model, fontsize=11)
        ax.grid(True, lw=0.3, alpha=0.5)
        panels.append((ax, xs, ys, d["quant"].tolist()))
    fig.canvas.draw()   # once: each panel's transform depends only on its own limits and position
    for ax, xs, ys, quants in panels:
        _place_labels(ax, xs, ys, quants, draw=False)
    for ax in axes.flat[len(models):]:
        ax.set_visible(False)
    for ax in axes[-1, :]:
        ax.set_xlabel(f"{axis_name} delta vs baseline (pp)")
    what = REFUSAL_MEASURES.get(measure, measure)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{what} delta vs baseline (pp)")
    handles = [
        Patch(
            facecolor="#d62728",
            alpha=0.25,
            label=f"hidden-danger zone ({axis_name} >= {th.hidden_floor_pp:g}pp, refusal < -{th.refusal_drop_pp:g}pp)",
        ),
        Patch(
            facecolor="#ff9f1c",
            alpha=0.3,
            label=f"near-hidden-danger band ({th.near_floor_pp:g} to {th.hidden_floor_pp:g}pp)",
        ),
    ]
    handles += [plt.Line2D([], [], marker="o", ls="", color=REGIME_COLORS[r], label=r)
                for r in ("hidden_danger", "near_hidden_danger", "neutral") if r in set(data["regime"])]
    if "_err_lo" in data:
        handles.append(plt.Line2D([], [], color="#555555", lw=0.8, label="95% Wilson interval of the cell's rate"))
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=9, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(
        f"Quality delta vs {what.replace('Regex', 'regex')} delta per model (non-baseline cells, colour = regime)",
        fontsize=13,
    )
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return fig


def plot_regime_map(cells: pd.DataFrame, quants: pd.DataFrame):
    """(b) Model x quant grid coloured by regime, annotated with the regex refusal delta; the
    colour's intensity grows with |regex refusal delta| (full at the largest |delta| of the
    matrix), so a -57pp collapse does not look like a +0.5pp wobble."""
    import matplotlib.colors as mcolors

    order = [q for q in quants["quant"] if q in set(cells["quant"])]
    models = sorted(cells["base_model"].unique())
    regimes = list(REGIME_COLORS)
    deltas = cells.loc[~cells["is_baseline"].astype(bool), "safety_refusal_rate_delta_pp"].astype("float64").abs()
    full = max(float(deltas.max()) if deltas.notna().any() else 0.0, 1.0)
    fig, ax = plt.subplots(figsize=(1.05 * len(order) + 2.6, 0.62 * len(models) + 2.2))
    for i, model in enumerate(models):
        for j, quant in enumerate(order):
            row = cells[(cells["base_model"] == model) & (cells["quant"] == quant)]
            if row.empty:
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor="white", edgecolor="#dddddd", hatch="///", lw=0.5))
                continue
            r = row.iloc[0]
            delta = r["safety_refusal_rate_delta_pp"]
            strength = (
                1.0 if bool(r["is_baseline"]) or pd.isna(delta) else 0.15 + 0.85 * min(abs(float(delta)) / full, 1.0)
            )
            base = mcolors.to_rgb(REGIME_COLORS.get(r["regime"], "#333333"))
            color = tuple(1 - strength * (1 - c) for c in base)   # blend with white: same hue, less ink
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=color, edgecolor="white", lw=1.5))
            text = REGIME_SHORT.get(r["regime"], r["regime"])
            if not bool(r["is_baseline"]) and pd.notna(delta):
                text = (text + "\n" if text else "") + f"{delta:+.1f}"
            if r.get("regime_confidence") == "fragile":   # the regime changes inside the 95% delta intervals
                text += " *"
            luminance = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=8,
                    color="white" if luminance < 0.55 else "#111111")
    ax.set_xlim(0, len(order))
    ax.set_ylim(len(models), 0)
    ax.set_xticks([j + 0.5 for j in range(len(order))], order)
    ax.set_yticks([i + 0.5 for i in range(len(models))], models)
    ax.tick_params(length=0)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    present = [r for r in regimes if r in set(cells["regime"])]
    handles = [Patch(facecolor=REGIME_COLORS[r], label=r) for r in present]
    handles.append(Patch(facecolor="white", edgecolor="#bbbbbb", hatch="///", label="no cell"))
    if "regime_confidence" in cells and (cells["regime_confidence"] == "fragile").any():
        handles.append(
            Patch(facecolor="white", edgecolor="white", label="* fragile: another regime within the 95% intervals")
        )
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(handles), fontsize=8.5,
              frameon=False)
    ax.set_title("Regime map (cell text: regex refusal delta, pp; * = fragile regime; colour intensity: |delta|, "
                 f"full at {full:.0f}pp)", fontsize=11)
    fig.tight_layout()
    return fig


def plot_regex_vs_judge(gaps: pd.DataFrame, th: Thresholds):
    """(c) Regex vs judge refusal rate per cell with the +/- gap band of the measurement-divergence rule."""
    d = gaps.dropna(subset=["regex_refusal_rate", "judge_refusal_rate"])
    fig, ax = plt.subplots(figsize=(8.6, 7.2))
    g = th.divergence_gap_pp
    ax.fill_between([0, 100], [0 - g, 100 - g], [0 + g, 100 + g], color="#2ca02c", alpha=0.10, lw=0,
                    label=f"|judge - regex| < {g:g}pp")
    ax.plot([0, 100], [0, 100], color="#555555", lw=0.8, ls="--", label="judge = regex")
    import numpy as np

    cmap = plt.get_cmap("tab10")
    x_bounds, y_bounds = interval(d, "regex_refusal_rate", th.wilson_z), interval(d, "judge_refusal_rate", th.wilson_z)
    if x_bounds is not None and y_bounds is not None:
        x, y = (
            100 * d["regex_refusal_rate"].astype("float64").to_numpy(),
            100 * d["judge_refusal_rate"].astype("float64").to_numpy(),
        )
        xerr = np.clip(np.vstack([x - 100 * x_bounds[0], 100 * x_bounds[1] - x]), 0, None)
        yerr = np.clip(np.vstack([y - 100 * y_bounds[0], 100 * y_bounds[1] - y]), 0, None)
        ok = np.isfinite(xerr).all(axis=0) & np.isfinite(yerr).all(axis=0)
        ax.errorbar(x[ok], y[ok], xerr=xerr[:, ok], yerr=yerr[:, ok], fmt="none", ecolor="#999999",
                    elinewidth=0.6, alpha=0.6, zorder=2, label="95% Wilson intervals")
    for k, model in enumerate(sorted(d["base_model"].unique())):
        m = d[d["base_model"] == model]
        for diverging, marker in ((False, "o"), (True, "D")):
            mm = m[m["measurement_divergence"].fillna(False).astype(bool) == diverging]
            if mm.empty:
                continue
            ax.scatter(100 * mm["regex_refusal_rate"], 100 * mm["judge_refusal_rate"], color=cmap(k), marker=marker,
                       s=42 if diverging else 30, edgecolor="black" if diverging else "white", linewidth=0.6,
                       label=model if not diverging or m["measurement_divergence"].fillna(False).all() else None,
                       zorder=3)
    diverging = d[d["measurement_divergence"].fillna(False).astype(bool)]
    n_div = len(diverging)
    ax.scatter([], [], marker="D", facecolor="none", edgecolor="black", label=f"diverging cell ({n_div} of {len(d)})")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 102)
    if n_div:
        _place_labels(ax, (100 * diverging["regex_refusal_rate"].astype("float64")).tolist(),
                      (100 * diverging["judge_refusal_rate"].astype("float64")).tolist(),
                      [f"{m} {q}" for m, q in zip(diverging["base_model"], diverging["quant"])], fontsize=6.5)
    ax.set_xlabel("Regex refusal rate (%)")
    ax.set_ylabel("LLM-judge refusal rate (%)")
    ax.set_title(f"Regex vs judge refusal per cell: {n_div} of {len(d)} cells differ by >= {g:g}pp", fontsize=12)
    ax.grid(True, lw=0.3, alpha=0.5)
    ax.legend(loc="lower right", fontsize=8.5, frameon=True, framealpha=0.9)
    fig.tight_layout()
    return fig


def plot_style_vs_refusal(style: pd.DataFrame, style_corr: pd.DataFrame):
    """(d) Refusal-style deltas vs AdvBench refusal delta, r from phase6_style_correlations in each title."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.2))
    corr = style_corr.set_index("style_metric")
    for ax, (metric, label, scale) in zip(axes.flat, STYLE_PANELS):
        d = style.dropna(subset=["advbench_refusal_rate_delta_pp", metric])
        ax.axhline(0, color="#999999", lw=0.6)
        ax.axvline(0, color="#999999", lw=0.6)
        ax.scatter(d["advbench_refusal_rate_delta_pp"], scale * d[metric], s=26, color="#4c78a8",
                   edgecolor="white", linewidth=0.5, zorder=3)
        if metric in corr.index:
            r = corr.loc[metric]
            ax.set_title(
                f"{label.split(' delta')[0]}: r = {r['pearson_r']:+.3f} (p = {r['pearson_p']:.2g}, n = {int(r['n'])})",
                fontsize=10.5,
            )
        ax.set_ylabel(label)
        ax.grid(True, lw=0.3, alpha=0.5)
    for ax in axes[-1, :]:
        ax.set_xlabel("AdvBench refusal-rate delta (pp)")
    fig.suptitle("Phase 6: refusal-style deltas vs refusal delta (non-baseline cells)", fontsize=12.5)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


def figure_png(fig, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


# the relative cost of drawing each plot (per-model panels with placed labels draw the most);
# a worker process's start (its imports) costs about one small plot
PLOT_WEIGHTS = {"plot_quality_vs_refusal": 3.0}
WORKER_START_WEIGHT = 1.0


def _plot_pngs(plots: list[tuple]) -> list[bytes]:
    """The PNG of each figure: `plot` = (plot function of this module, args, kwargs)."""
    return [figure_png(function(*args, **kwargs)) for function, args, kwargs in plots]


def split_plots(weights: list[float]) -> tuple[list[int], list[int]]:
    """(this process's plots, the worker's plots): heaviest first, each to the less loaded
    side, the worker's load starting at its start-up cost; ties to this process."""
    from ..workers import shares_by_weight

    here, there = shares_by_weight(weights, [0.0, WORKER_START_WEIGHT])
    return here, there


def render_pngs(plots: list[tuple]) -> list[bytes]:
    """The PNG of each (plot function, args, kwargs), in order. Drawing and PNG encoding are
    most of the report's time (~4 s of a demo bundle on one core): a worker process
    (quant_safety/workers.in_worker) draws its share of the figures while this process
    draws the rest. The bytes are the same either way (same matplotlib, Agg backend, no
    time in the PNG metadata)."""
    from ..workers import in_worker

    here, there = split_plots([PLOT_WEIGHTS.get(plot[0].__name__, 1.0) for plot in plots])
    theirs = in_worker(_plot_pngs, [plots[i] for i in there]) if there else None
    out: list = [None] * len(plots)
    for i, png in zip(here, _plot_pngs([plots[i] for i in here])):
        out[i] = png
    for i, png in zip(there, theirs.result() if theirs else []):
        out[i] = png
    return out


# ------------------------------------------------------------------ document model
class Doc:
    """A tiny block list rendered to Markdown and to HTML."""

    def __init__(self):
        self.blocks: list[tuple] = []

    def h(self, level: int, text: str):
        self.blocks.append(("h", level, text))

    def p(self, text: str):
        self.blocks.append(("p", text))

    def bullets(self, items: list[str]):
        self.blocks.append(("ul", items))

    def table(self, frame: pd.DataFrame):
        self.blocks.append(("table", frame))

    def figure(self, name: str, png: bytes, caption: str):
        self.blocks.append(("fig", name, png, caption))

    def fold(self, summary: str):
        """Start a folded section (HTML/Markdown <details>) that `unfold` closes."""
        self.blocks.append(("details", summary))

    def unfold(self):
        self.blocks.append(("/details",))

    def markdown(self) -> str:
        out = []
        for b in self.blocks:
            if b[0] == "h":
                out.append("#" * b[1] + " " + b[2])
            elif b[0] == "p":
                out.append(b[1])
            elif b[0] == "ul":
                out.append("\n".join(f"- {i}" for i in b[1]))
            elif b[0] == "table":
                f = b[1]
                cells = [[_cell(v) for v in row] for row in f.itertuples(index=False)]
                out.append("\n".join(["| " + " | ".join(map(str, f.columns)) + " |",
                                      "|" + "---|" * len(f.columns)]
                                     + ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]))
            elif b[0] == "fig":
                out.append(f"![{b[3]}](figures/{b[1]}.png)\n\n*{b[3]}*")
            elif b[0] == "details":
                out.append(f"<details>\n<summary>{html.escape(b[1])}</summary>")
            elif b[0] == "/details":
                out.append("</details>")
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        body = []
        for b in self.blocks:
            if b[0] == "h":
                body.append(f"<h{b[1]}>{html.escape(b[2])}</h{b[1]}>")
            elif b[0] == "p":
                body.append(f"<p>{_inline(b[1])}</p>")
            elif b[0] == "ul":
                body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b[1]) + "</ul>")
            elif b[0] == "table":
                f = b[1]
                head = "".join(f"<th>{html.escape(str(c))}</th>" for c in f.columns)
                numeric = [pd.api.types.is_numeric_dtype(f[c]) and not pd.api.types.is_bool_dtype(f[c])
                           for c in f.columns]
                cell_tag = ['<td class="num">' if n else "<td>" for n in numeric]
                rows = "".join("<tr>" + "".join(f"{tag}{html.escape(_cell(v))}</td>"
                                                for v, tag in zip(row, cell_tag)) + "</tr>"
                               for row in f.itertuples(index=False))
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
            elif b[0] == "fig":
                data = base64.b64encode(b[2]).decode("ascii")
                body.append(f'<figure><img alt="{html.escape(b[3])}" src="data:image/png;base64,{data}">'
                            f"<figcaption>{html.escape(b[3])}</figcaption></figure>")
            elif b[0] == "details":
                body.append(f"<details><summary>{_inline(b[1])}</summary>")
            elif b[0] == "/details":
                body.append("</details>")
        return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
                f"<style>{_CSS}</style></head><body><main>\n" + "\n".join(body) + "\n</main></body></html>\n")


_CSS = ("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;background:#fff;margin:0}"
        "main{max-width:1100px;margin:0 auto;padding:24px 32px}h1{font-size:1.7em}h2{border-bottom:1px solid #ddd;"
        "padding-bottom:4px;margin-top:1.8em}table{border-collapse:collapse;margin:12px 0;font-size:.86em}"
        "th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}"
        "figure{margin:18px 0}img{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:.9em;"
        "color:#555}code{background:#f4f4f4;padding:1px 4px;border-radius:3px}.note{background:#fff7e0}"
        "details{margin:12px 0;border:1px solid #ddd;border-radius:4px;padding:6px 12px}"
        "summary{cursor:pointer;font-weight:600;font-size:1.1em}td.num,th.num{text-align:right}")


def _inline(text: str) -> str:
    """Escape, then render `code` and **bold** spans."""
    import re

    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _cell(v) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, numbers.Integral):   # counts: integers, thousands separated from 10,000 on
        return f"{int(v):,}" if abs(int(v)) >= 10000 else str(int(v))
    if isinstance(v, float):
        v = v + 0.0  # no "-0"
        if v == 0:
            return "0"
        if abs(v) < 1e-3 or abs(v) >= 1e6:
            return f"{v:.3g}"
        text = f"{v:.2f}" if abs(v) >= 1 else f"{v:.4g}"
        return "0.00" if text in ("-0.00", "0.00") else text
    return str(v)


# ------------------------------------------------------------------ report
@dataclass
class ReportResult:
    markdown: Path
    html: Path
    figures: list[Path]


def build_report(cfg: Settings | None = None, out_dir: Path | None = None, dbt_vars: dict | None = None,
                 con=None) -> ReportResult:
    """`con`: an open `export.open_bundle_connection` connection to use (left open);
    else one is opened (the DuckDB file, or the tables read from Spark).

    Order, for a reader deciding whether a quantized model is safe to ship: the headline
    findings (computed from the marts), the plots, the tables behind them, then the
    inputs and the claim ledger (folded)."""
    from contextlib import nullcontext

    from ..demo.fingerprint import is_demo_warehouse
    from .export import open_bundle_connection
    from .run_manifest import dbt_vars_in_effect

    cfg = cfg or settings()
    out = Path(out_dir or cfg.out_dir)
    with (nullcontext(con) if con is not None else open_bundle_connection(cfg)) as con:
        th = Thresholds.from_warehouse(con, dbt_vars_in_effect(cfg, dbt_vars))
        data = load_plot_data(con)
        demo = is_demo_warehouse(con, cfg.raw_dir)
        q = lambda sql: frame(con, sql)  # noqa: E731
        ledger = q("select * from claim_ledger order by claim_id")
        recon = q("""select role, count(*) as sources, cast(sum(raw_lines) as bigint) as raw_lines,
                            cast(sum(loaded_rows) as bigint) as loaded, cast(sum(excluded_rows) as bigint) as excluded,
                            cast(sum(quarantined_rows) as bigint) as quarantined, bool_and(balanced) as balanced
                     from audit_reconciliation group by role order by role""")
        shape = con.execute("""select count(*), count(distinct base_model), count(distinct family),
                                      count(distinct format), count(*) filter (where not is_baseline)
                               from matrix""").fetchall()[0]
        hidden = q("""select r.base_model as model, r.quant, r.regime,
                             round(r.quality_axis_delta_pp, 2) as quality_delta_pp,
                             round(r.safety_refusal_rate_delta_pp, 2) as regex_refusal_delta_pp,
                             round(m.judge_refusal_rate_delta_pp, 2) as judge_refusal_delta_pp,
                             m.deployment_action
                      from regimes r join matrix m using (base_model, quant)
                      where r.regime in ('hidden_danger', 'near_hidden_danger')
                      order by r.regime, r.base_model, r.quant_order""")
        tables = {t for (t,) in con.execute("select table_name from information_schema.tables").fetchall()}
        partial = q("""select m.base_model as model, m.quant, m.regime, m.deployment_action,
                              coalesce(c.missing_sides, '') as missing_sides,
                              coalesce(c.baseline_missing_sides, '') as baseline_missing_sides
                       from matrix m join cell_coverage c using (base_model, quant)
                       where m.regime in ('undetermined', 'no_baseline')
                       order by m.regime, m.base_model, m.quant_order""") if "cell_coverage" in tables else None
        deploy = q("""select quant, models, round(max_judge_refusal_signal_pp, 2) as max_judge_signal_pp,
                             round(max_regex_refusal_signal_pp, 2) as max_regex_signal_pp, reject_rows,
                             hidden_danger_rows, recommended_role
                      from phase5_quant_deployment order by quant_order""")
    axis = "BERTScore" if th.quality_axis == "bertscore" else "key-metric average"
    # each figure: (plot function, its arguments, caption); rendered in worker processes
    figures = {
        "fig_a_quality_vs_refusal": ((plot_quality_vs_refusal, (data["cells"], th), {}),
                                     f"(a) {axis} delta vs regex refusal delta, one panel per model; shaded: the "
                                     "hidden-danger zone and the near-hidden-danger band (thresholds from the dbt "
                                     "vars); bars: 95% Wilson interval of the cell's regex refusal rate."),
        "fig_a2_quality_vs_judge_refusal": (
            (plot_quality_vs_refusal, (data["cells"], th), {"measure": "judge_refusal_rate"}),
            "(a') The same with the LLM-judge refusal delta on the vertical axis (colour: the regime, which the "
            "rule derives from the regex rate); bars: 95% Wilson interval of the cell's judge refusal rate."),
        "fig_b_regime_map": ((plot_regime_map, (data["cells"], data["quants"]), {}),
                             "(b) Regime per model x quant cell; colour intensity grows with |regex refusal delta|."),
        "fig_c_regex_vs_judge": ((plot_regex_vs_judge, (data["gaps"], th), {}),
                                 f"(c) Regex vs LLM-judge refusal rate per cell with 95% Wilson intervals; the band is "
                                 f"the +/-{th.divergence_gap_pp:g}pp measurement-divergence threshold (TAX_005); "
                                 "diverging cells are labelled."),
        "fig_d_style_vs_refusal": ((plot_style_vs_refusal, (data["style"], data["style_corr"]), {}),
                                   "(d) Phase 6 refusal-style deltas vs AdvBench refusal delta; r and p from "
                                   "phase6_style_correlations (all cells)."),
    }
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    pngs = dict(zip(figures, render_pngs([plot for plot, _ in figures.values()])))
    for name, png in pngs.items():
        (fig_dir / f"{name}.png").write_bytes(png)

    doc = Doc()
    doc.h(1, "Quant-safety warehouse: analysis report")
    if demo:
        doc.p("**The data behind this report is SYNTHETIC.** It was written by `qsafety demo`: raw JSONL in the "
              "upstream schema and row counts, calibrated to the published TR142 v3 cell values (regex rates exactly, "
              "quality means to 3 decimals, judge rates to the nearest achievable k/n, refusal-style features within "
              "+/-0.01). It reproduces the report's aggregates by construction and is not evidence about the models.")
    else:
        doc.p("Raw inputs are listed with their sha256 in `run_manifest.json`.")
    doc.h(2, "Headline findings")
    doc.bullets(headline_findings(data["cells"], data["gaps"], ledger, shape, th))
    doc.h(2, "Plots")
    for name, (_, caption) in figures.items():
        doc.figure(name, pngs[name], caption)
    doc.h(2, "Hidden-danger cells")
    doc.table(hidden)
    if partial is not None and len(partial):
        doc.h(2, "Cells the regime rule cannot classify")
        doc.p(f"{len(partial)} cells: `no_baseline` (the model's baseline cell is absent: no deltas) or "
              "`undetermined` (the quality-axis or regex refusal delta is missing: a side of the cell or of its "
              "baseline has no rows, or all its values are NaN). Their deployment action is `manual_review`; "
              "`cell_coverage` lists every cell's sides.")
        doc.table(partial)
    doc.h(2, "Deployment recommendation per quant level")
    doc.table(deploy)
    doc.h(2, "Headline numbers of the report, recomputed")
    head = ledger.set_index("claim_id").reindex([c for c in HEADLINE_CLAIMS if c in set(ledger["claim_id"])])
    doc.table(pd.DataFrame({
        "claim": head["claim_text"], "published": head["published_text"],
        "computed": [_fmt_computed(r) for _, r in head.iterrows()],
        "status": head["status"], "ledger id": head.index}))
    doc.h(2, "Inputs")
    doc.table(recon)
    doc.p("Every raw line is loaded, excluded by a documented rule, or quarantined (`audit_reconciliation`, "
          "`quarantine.csv`). Hashes, package versions, dbt vars and the git commit are in `run_manifest.json`; "
          "every table of this report is in the bundle as CSV and Parquet.")
    doc.h(2, "Claim ledger")
    counts = ledger["status"].value_counts()
    doc.p(f"{len(ledger)} claims of the report (Abstract, Executive Summary, Validation Summary, Core Decisions, "
          f"Claim Validation C1-C8, Appendix E.4 ids, Appendix F, the tables number by number and the contradicted "
          f"body numbers), each recomputed from the warehouse (`claim_ledger`): {ledger_summary(counts)}.")
    conflicts = ledger[ledger["conflicting_published_value"].notna() & ledger["computed_value"].notna()]
    if len(conflicts):
        doc.fold(f"Where the report contradicts itself ({len(conflicts)} claims)")
        doc.table(pd.DataFrame({"ledger id": conflicts["claim_id"], "published": conflicts["published_text"],
                                "conflicting": conflicts["conflicting_published_text"],
                                "computed (all cells)": [_fmt_computed(r) for _, r in conflicts.iterrows()],
                                "computed (47-cell bundle)": [_fmt_value(r["computed_value_47cell"], r["unit"])
                                                              for _, r in conflicts.iterrows()],
                                "resolution": conflicts["conflict_resolution"],
                                "item": conflicts["inconsistency_item"]}))
        doc.unfold()
    differs = ledger[ledger["status"].isin(["differs", "not_computable"])]
    if len(differs):
        doc.fold(f"Claims that differ or cannot be computed ({len(differs)})")
        doc.table(pd.DataFrame({"ledger id": differs["claim_id"], "published": differs["published_text"],
                                "computed": [_fmt_computed(r) for _, r in differs.iterrows()],
                                "status": differs["status"], "reason": differs["status_reason"]}))
        doc.unfold()
    doc.fold(f"The whole ledger ({len(ledger)} claims)")
    doc.table(pd.DataFrame({"ledger id": ledger["claim_id"], "claim": ledger["claim_text"],
                            "published": ledger["published_text"],
                            "computed": [_fmt_computed(r) for _, r in ledger.iterrows()],
                            "status": ledger["status"]}))
    doc.unfold()

    out.mkdir(parents=True, exist_ok=True)
    md_path, html_path = out / "analysis_report.md", out / "analysis_report.html"
    for path, text in ((md_path, doc.markdown()), (html_path, doc.html("Quant-safety analysis report"))):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return ReportResult(md_path, html_path, [fig_dir / f"{n}.png" for n in figures])


def ledger_summary(counts) -> str:
    """The ledger's status counts as one line: matches the data could have
    contradicted are kept apart from matches the synthetic demo data make true
    by construction."""
    return (f"**{counts.get('reproduced', 0)} reproduced** (data could disagree), "
            f"**{counts.get('by_construction', 0)} by construction** (the demo data are calibrated to them), "
            f"**{counts.get('differs', 0)} differ** with reasons, **{counts.get('not_computable', 0)} not computable**")


def headline_findings(
    cells: pd.DataFrame, gaps: pd.DataFrame, ledger: pd.DataFrame, shape, th: Thresholds
) -> list[str]:
    """What a reader wants first, each sentence computed from the marts."""
    out = [f"The matrix has **{shape[0]} cells** ({shape[4]} non-baseline) of {shape[1]} models in {shape[2]} "
           f"families and {shape[3]} formats."]
    non_base = cells[~cells["is_baseline"].astype(bool)]
    hidden = non_base[non_base["regime"] == "hidden_danger"]
    near = non_base[non_base["regime"] == "near_hidden_danger"]
    text = (f"**{len(hidden)} hidden-danger cells**: quality within {abs(th.hidden_floor_pp):g}pp of the baseline "
            f"while the regex refusal rate drops by more than {th.refusal_drop_pp:g}pp")
    if len(hidden):
        worst = hidden.loc[hidden["safety_refusal_rate_delta_pp"].astype("float64").idxmin()]
        bounds = interval(hidden.loc[[worst.name]], "safety_refusal_rate", th.wilson_z)
        ci = (f"; its refusal rate {100 * float(worst['safety_refusal_rate']):.1f}% "
              f"(95% Wilson {100 * bounds[0][0]:.1f}-{100 * bounds[1][0]:.1f}%)") if bounds is not None else ""
        text += (f"; the largest drop is {worst['base_model']} {worst['quant']} at "
                 f"{float(worst['safety_refusal_rate_delta_pp']):+.1f}pp{ci}")
    out.append(text + f". {len(near)} more {'is' if len(near) == 1 else 'are'} near-hidden-danger (quality "
                      f"within {abs(th.near_floor_pp):g}pp).")
    if "regime_confidence" in non_base:
        fragile = non_base[non_base["regime_confidence"] == "fragile"]
        danger = fragile[fragile["regime"].isin(["hidden_danger", "near_hidden_danger"])]
        out.append(
            f"**{len(fragile)} cells have a fragile regime** (another regime lies within the 95% intervals of "
            f"their quality and refusal deltas; * on the regime map), {len(danger)} of them (near-)hidden-danger."
        )
    g = gaps.dropna(subset=["gap_pp"])
    div = g[g["measurement_divergence"].fillna(False).astype(bool)]
    if len(g):
        text = (f"The regex classifier and the LLM judge disagree by >= {th.divergence_gap_pp:g}pp on "
                f"**{len(div)} of {len(g)} cells**")
        if len(div):
            top = div.loc[div["gap_pp"].astype("float64").abs().idxmax()]
            text += f" (largest: {top['base_model']} {top['quant']}, judge - regex = {float(top['gap_pp']):+.1f}pp)"
        out.append(text + ": a regex-only safety screen is not enough for those cells.")
    actions = non_base["deployment_action"].value_counts()
    if len(actions):
        out.append("Deployment protocol over the non-baseline cells: "
                   + ", ".join(f"{n} {action.replace('_', ' ')}" for action, n in actions.items()) + ".")
    counts = ledger["status"].value_counts()
    out.append(f"Of the report's {len(ledger)} claims: {ledger_summary(counts)} (claim ledger at the end).")
    return out


def _fmt_computed(row) -> str:
    if pd.notna(row.get("computed_text")) and row.get("computed_text") is not None:
        return str(row["computed_text"])
    return _fmt_value(row.get("computed_value"), row.get("unit"))


def _fmt_value(v, unit) -> str:
    if v is None or pd.isna(v):
        return "n/a"
    if unit in ("cells", "models", "families", "formats", "pairings", "rows", "quant levels"):
        return f"{v:.0f}"
    if unit == "boolean":
        return "yes" if v >= 0.5 else "no"
    if unit == "p":
        return f"{v:.3g}"
    if unit in ("r", "rho", "kappa"):
        return f"{v:+.4f}"
    return f"{v:.2f}"
