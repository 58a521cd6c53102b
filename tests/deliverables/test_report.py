"""`qsafety report`: self-contained HTML with 5 plots fed from the warehouse tables, headline
findings and plots first, the claim ledger last and folded; checked in headless Chromium."""
from __future__ import annotations

import re

import duckdb
import numpy as np
import pytest
from matplotlib.collections import PathCollection

from quant_safety.bundle import report as rep


@pytest.fixture(scope="module")
def plot_data(warehouse):
    from quant_safety.bundle.run_manifest import dbt_vars_in_effect

    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        data = rep.load_plot_data(con)
        matrix = con.execute("select * from matrix").df()
        th = rep.Thresholds.from_warehouse(con, dbt_vars_in_effect(warehouse))
    return data, matrix, th


def _points(ax):
    pts = []
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and len(coll.get_offsets()):
            pts += [tuple(np.round(p, 6)) for p in np.asarray(coll.get_offsets())]
    return sorted(pts)


def test_html_is_self_contained_with_five_plots(bundle):
    html = (bundle["dir"] / "analysis_report.html").read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|iframe)\b", html, re.I)
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", html, re.I)
    assert not re.search(r"url\(\s*[\"']?https?:", html, re.I)
    imgs = re.findall(r"<img [^>]*src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"", html)
    assert len(imgs) == 5 and all(len(i) > 10000 for i in imgs)
    assert "SYNTHETIC" in html


def test_markdown_report(bundle):
    md = (bundle["dir"] / "analysis_report.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in md and "calibrated to the published" in md
    assert md.count("![") == 5
    for png in bundle["report"].figures:
        assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "REG_001" in md and "reproduced" in md
    # the summary line keeps the demo's by-construction matches apart
    assert re.search(r"\d+ reproduced\*\* \(data could disagree\), \*\*\d+ by construction\*\*", md)


def test_scatter_points_equal_the_matrix_rows(plot_data):
    data, matrix, th = plot_data
    assert th.quality_axis == "bertscore" and th.hidden_floor_pp == -2 and th.refusal_drop_pp == 10
    fig = rep.plot_quality_vs_refusal(data["cells"], th)
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible() and ax.get_title()}
    nb = matrix[~matrix["is_baseline"]]
    assert set(panels) == set(nb["base_model"])
    for model, ax in panels.items():
        m = nb[nb["base_model"] == model]
        expected = sorted(
            zip(np.round(m["quality_bertscore_delta_pp"], 6), np.round(m["safety_refusal_rate_delta_pp"], 6))
        )
        assert _points(ax) == expected, model
        assert len(ax.texts) == len(m)  # one quant label per point
    rep.plt.close(fig)


def test_regime_map_cells_equal_regimes(plot_data):
    data, matrix, _ = plot_data
    fig = rep.plot_regime_map(data["cells"], data["quants"])
    ax = fig.axes[0]
    hd_labels = [t for t in ax.texts if t.get_text().startswith("HD")]
    assert len(hd_labels) == int((matrix["regime"] == "hidden_danger").sum())
    assert [t.get_text() for t in ax.get_yticklabels()] == sorted(matrix["base_model"].unique())
    rep.plt.close(fig)


def test_regex_vs_judge_points_equal_the_gaps(plot_data, query):
    data, _, th = plot_data
    fig = rep.plot_regex_vs_judge(data["gaps"], th)
    gaps = query("select regex_refusal_rate, judge_refusal_rate, measurement_divergence from regex_vs_judge_gaps")
    expected = sorted(zip(np.round(100 * gaps["regex_refusal_rate"], 6), np.round(100 * gaps["judge_refusal_rate"], 6)))
    assert _points(fig.axes[0]) == expected
    assert f"{int(gaps['measurement_divergence'].sum())} of {len(gaps)}" in fig.axes[0].get_title()
    rep.plt.close(fig)


def test_style_panels_use_phase6_tables(plot_data, query):
    data, _, _ = plot_data
    fig = rep.plot_style_vs_refusal(data["style"], data["style_corr"])
    style = query(
        "select advbench_refusal_rate_delta_pp as x, dominant_prefix_share_delta as y from phase6_refusal_style"
    )
    assert _points(fig.axes[0]) == sorted(zip(np.round(style["x"], 6), np.round(100 * style["y"], 6)))
    r = query("""select pearson_r from phase6_style_correlations where scope = 'all_cells'
                 and refusal_measure = 'advbench_refusal_rate_delta'
                 and style_metric = 'dominant_prefix_share_delta'""")
    assert f"r = {r['pearson_r'][0]:+.3f}" in fig.axes[0].get_title()
    rep.plt.close(fig)


def test_report_leads_with_findings_and_plots_ledger_last_and_folded(bundle):
    html = (bundle["dir"] / "analysis_report.html").read_text(encoding="utf-8")
    findings, first_plot = html.index("Headline findings"), html.index("<figure>")
    first_table, ledger = html.index("<table>"), html.index("<h2>Claim ledger</h2>")
    assert findings < first_plot < first_table < ledger
    assert html.index("<details>", ledger) > ledger and html.count("<details>") >= 2
    assert "<details>" not in html[:ledger]
    assert html.rstrip().endswith("</details>\n</main></body></html>")


def test_counts_render_as_integers(bundle, query):
    html = (bundle["dir"] / "analysis_report.html").read_text(encoding="utf-8")
    total = int(query("select sum(raw_lines) as n from audit_reconciliation where role = 'judge'")["n"][0])
    assert f"{total:,}" in html and f"{total:,}.00" not in html and f"{total}.00" not in html
    inputs = html[html.index("<h2>Inputs</h2>"):html.index("<h2>Claim ledger</h2>")]
    assert not re.search(r"<td class=\"num\">\d[\d,]*\.\d+</td>", inputs)


def test_headline_findings_are_computed_from_the_marts(bundle, query):
    html = (bundle["dir"] / "analysis_report.html").read_text(encoding="utf-8")
    cells = query("select count(*) as n, count(*) filter (where regime = 'hidden_danger') as hd from matrix")
    assert f"<strong>{cells['n'][0]} cells</strong>" in html
    assert f"<strong>{cells['hd'][0]} hidden-danger cells</strong>" in html
    worst = query("""select base_model, quant, safety_refusal_rate_delta_pp as d from matrix
                     where regime = 'hidden_danger' order by d limit 1""")
    assert f"{worst['base_model'][0]} {worst['quant'][0]} at {worst['d'][0]:+.1f}pp" in html
    div = query("select count(*) filter (where measurement_divergence) as k, count(*) as n from regex_vs_judge_gaps")
    assert f"<strong>{div['k'][0]} of {div['n'][0]} cells</strong>" in html


def _error_bars(ax):
    """(x, y, lower, upper) of every vertical error bar drawn on ax."""
    from matplotlib.collections import LineCollection

    bars = []
    for coll in ax.collections:
        if isinstance(coll, LineCollection):
            for seg in coll.get_segments():
                (x0, y0), (x1, y1) = seg[0], seg[-1]
                if abs(x0 - x1) < 1e-9:
                    bars.append((round(x0, 6), round(min(y0, y1), 6), round(max(y0, y1), 6)))
    return sorted(bars)


def test_refusal_plot_error_bars_are_the_wilson_intervals(plot_data):
    """Bars of plot (a): the matrix's Wilson interval of the regex rate, as a delta (baseline fixed);
    of (a'): statsmodels' Wilson interval of the judge rate from its k/n."""
    from statsmodels.stats.proportion import proportion_confint

    data, matrix, th = plot_data
    nb = matrix[~matrix["is_baseline"]].dropna(subset=["quality_bertscore_delta_pp"])
    fig = rep.plot_quality_vs_refusal(data["cells"], th)
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible() and ax.get_title()}
    for model, ax in panels.items():
        m = nb[nb["base_model"] == model]
        d = m["safety_refusal_rate_delta_pp"]
        lo = d - 100 * (m["safety_refusal_rate"] - m["safety_refusal_rate_ci_lo"])
        hi = d + 100 * (m["safety_refusal_rate_ci_hi"] - m["safety_refusal_rate"])
        expected = sorted(zip(np.round(m["quality_bertscore_delta_pp"], 6), np.round(lo, 6), np.round(hi, 6)))
        assert _error_bars(ax) == expected, model
    rep.plt.close(fig)
    fig = rep.plot_quality_vs_refusal(data["cells"], th, measure="judge_refusal_rate")
    ax = next(a for a in fig.axes if a.get_title() == "phi-2")
    m = nb[(nb["base_model"] == "phi-2") & nb["judge_refusal_rate_n"].notna()]
    k = np.round(m["judge_refusal_rate"] * m["judge_refusal_rate_n"])
    from scipy.stats import norm

    alpha = 2 * (1 - norm.cdf(th.wilson_z))   # the matrix's z (dbt var wilson_z = 1.96)
    wlo, whi = proportion_confint(k, m["judge_refusal_rate_n"], alpha=alpha, method="wilson")
    d = m["judge_refusal_rate_delta_pp"]
    expected = sorted(zip(np.round(m["quality_bertscore_delta_pp"], 6),
                          d - 100 * (m["judge_refusal_rate"] - wlo), d + 100 * (whi - m["judge_refusal_rate"])))
    got = _error_bars(ax)
    assert len(got) == len(expected) > 0
    np.testing.assert_allclose(np.array(got, dtype=float), np.array(expected, dtype=float), atol=1e-5)
    assert "LLM-judge refusal delta" in ax.get_ylabel() or "LLM-judge" in fig.axes[0].get_ylabel()
    rep.plt.close(fig)


def test_diverging_cells_are_labelled(plot_data, query):
    data, _, th = plot_data
    fig = rep.plot_regex_vs_judge(data["gaps"], th)
    div = query("select base_model, quant from regex_vs_judge_gaps where measurement_divergence")
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert labels == {f"{m} {q}" for m, q in zip(div["base_model"], div["quant"])}
    rep.plt.close(fig)


def test_regime_map_intensity_grows_with_the_refusal_drop(plot_data):
    """The ink of a cell (1 - its lightest RGB channel) rises with |regex refusal delta| within a regime."""
    data, matrix, _ = plot_data
    fig = rep.plot_regime_map(data["cells"], data["quants"])
    ax = fig.axes[0]
    order = [t.get_text() for t in ax.get_xticklabels()]
    models = [t.get_text() for t in ax.get_yticklabels()]
    ink = {}
    for patch in ax.patches:
        x, y = patch.get_xy()
        if patch.get_hatch():
            continue
        rgb = patch.get_facecolor()[:3]
        ink[(models[int(round(y))], order[int(round(x))])] = 1 - max(rgb)
    nb = matrix[~matrix["is_baseline"] & (matrix["regime"] == "neutral")]
    pairs = sorted((abs(r.safety_refusal_rate_delta_pp), ink[(r.base_model, r.quant)]) for r in nb.itertuples())
    inks = [i for _, i in pairs]
    assert inks == sorted(inks) and inks[-1] > 2 * inks[0]
    rep.plt.close(fig)


def test_report_renders_in_headless_chromium(bundle, chromium, tmp_path):
    """Screenshot of the top of the report: it must render (a blank or broken page fails), and
    the first screen already shows the findings and a plot."""
    png = chromium.screenshot(bundle["dir"] / "analysis_report.html", tmp_path / "report.png", width=1200, height=1600)
    assert chromium.ink_fraction(png) > 0.08
    dom = chromium.rendered_dom(bundle["dir"] / "analysis_report.html")
    assert dom.count("<img") == 5 and "Headline findings" in dom


def test_split_plots_shares_the_figures_by_weight():
    # weights 3, 3, 1, 1, 1; the worker starts at WORKER_START_WEIGHT = 1, ties stay here:
    # 0 -> here (0 <= 1: 3), 1 -> worker (1 < 3: 4), 2 -> here (3 < 4: 4), 3 -> here (4 <= 4: 5),
    # 4 -> worker (4 < 5: 5)
    assert rep.WORKER_START_WEIGHT == 1.0
    assert rep.split_plots([3.0, 3.0, 1.0, 1.0, 1.0]) == ([0, 2, 3], [1, 4])
    assert rep.split_plots([1.0]) == ([0], [])          # one figure: drawn here, no worker
    assert rep.split_plots([]) == ([], [])


def test_figures_drawn_by_the_worker_are_the_figures_drawn_here(plot_data):
    data, _, th = plot_data
    plots = [(rep.plot_quality_vs_refusal, (data["cells"], th), {}),
             (rep.plot_regime_map, (data["cells"], data["quants"]), {}),
             (rep.plot_regex_vs_judge, (data["gaps"], th), {})]
    here, there = rep.split_plots([rep.PLOT_WEIGHTS.get(p[0].__name__, 1.0) for p in plots])
    assert there                                         # the worker draws some of them
    assert rep.render_pngs(plots) == rep._plot_pngs(plots)
