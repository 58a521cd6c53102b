"""`qsafety report`: self-contained HTML with 4 plots fed from the warehouse tables."""
from __future__ import annotations

import re

import duckdb
import numpy as np
import pytest
from matplotlib.collections import PathCollection

from quant_safety import report as rep


@pytest.fixture(scope="module")
def plot_data(warehouse):
    from quant_safety.export import dbt_vars_in_effect

    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        data = rep.load_plot_data(con)
        matrix = con.execute("select * from matrix").df()
    return data, matrix, rep.Thresholds.from_vars(dbt_vars_in_effect(warehouse))


def _points(ax):
    pts = []
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and len(coll.get_offsets()):
            pts += [tuple(np.round(p, 6)) for p in np.asarray(coll.get_offsets())]
    return sorted(pts)


def test_html_is_self_contained_with_four_plots(bundle):
    html = (bundle["dir"] / "analysis_report.html").read_text(encoding="utf-8")
    assert not re.search(r"<(script|link|iframe)\b", html, re.I)
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", html, re.I)
    assert not re.search(r"url\(\s*[\"']?https?:", html, re.I)
    imgs = re.findall(r"<img [^>]*src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"", html)
    assert len(imgs) == 4 and all(len(i) > 10000 for i in imgs)
    assert "SYNTHETIC" in html


def test_markdown_report(bundle):
    md = (bundle["dir"] / "analysis_report.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in md and "calibrated to the published" in md
    assert md.count("![") == 4
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
        expected = sorted(zip(np.round(m["quality_bertscore_delta_pp"], 6), np.round(m["safety_refusal_rate_delta_pp"], 6)))
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
    style = query("select advbench_refusal_rate_delta_pp as x, dominant_prefix_share_delta as y from phase6_refusal_style")
    assert _points(fig.axes[0]) == sorted(zip(np.round(style["x"], 6), np.round(100 * style["y"], 6)))
    r = query("""select pearson_r from phase6_style_correlations where scope = 'all_cells'
                 and refusal_measure = 'advbench_refusal_rate_delta' and style_metric = 'dominant_prefix_share_delta'""")
    assert f"r = {r['pearson_r'][0]:+.3f}" in fig.axes[0].get_title()
    rep.plt.close(fig)
