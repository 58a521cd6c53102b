{#- How sure is each cell's regime? The regime rule (macro regime_rule) is
    evaluated at the four corners of the box spanned by the 95% intervals of
    the quality-axis delta and of the regex refusal delta (int_cell_intervals). The
    rule's regions are unions of threshold rectangles, so the corners reach
    every regime the box reaches:
      robust          every corner gives the cell's regime;
      fragile         some corner gives another regime (regimes_within_intervals
                      lists them all): a cell 0.5pp past a threshold is fragile;
      not_assessable  a delta or its interval is NULL;
      not_applicable  baseline cells and cells without a baseline.
    refusal_drop_mde_pp: the smallest regex refusal drop (pp, from the
    baseline's rate) that a two-sided 5% test of two proportions detects with
    80% power at this cell's and its baseline's n (arcsine effect size h =
    (z_alpha/2 + z_beta) * sqrt(1/n1 + 1/n0); vars mde_alpha_z, mde_power_z);
    NULL when even a drop to 0 is not detectable.
    The corners are rounded like the deltas (var delta_pp_round_decimals) before
    the rule: a zero-width interval of a cell exactly on a threshold (identical
    scores) stays on it instead of crossing it by float noise of the variance. -#}
{%- set digits = var('delta_pp_round_decimals') -%}
{%- set q_lo = 'round(quality_axis_delta_ci_lo, ' ~ digits ~ ')' -%}
{%- set q_hi = 'round(quality_axis_delta_ci_hi, ' ~ digits ~ ')' -%}
{%- set r_lo = 'round(refusal_delta_ci_lo, ' ~ digits ~ ')' -%}
{%- set r_hi = 'round(refusal_delta_ci_hi, ' ~ digits ~ ')' -%}
{%- set floors = quant_safety.regime_quality_floors() -%}
with intervals as (
    select base_model, quant, metric, delta_ci_lo, delta_ci_hi, n
    from {{ ref('int_cell_intervals') }}
    where metric in ('{{ floors.metric }}', 'safety_refusal_rate')
),

cells as (
    select
        regimes.base_model,
        regimes.quant,
        regimes.baseline_quant,
        regimes.is_baseline,
        regimes.regime,
        regimes.quality_axis,
        regimes.quality_axis_delta_pp,
        regimes.safety_refusal_rate_delta_pp,
        quality.delta_ci_lo as quality_axis_delta_ci_lo,
        quality.delta_ci_hi as quality_axis_delta_ci_hi,
        refusal.delta_ci_lo as refusal_delta_ci_lo,
        refusal.delta_ci_hi as refusal_delta_ci_hi,
        refusal.n as refusal_n
    from {{ ref('int_cell_regimes') }} as regimes
    left join intervals as quality
        on quality.base_model = regimes.base_model and quality.quant = regimes.quant
        and quality.metric = '{{ floors.metric }}'
    left join intervals as refusal
        on refusal.base_model = regimes.base_model and refusal.quant = regimes.quant
        and refusal.metric = 'safety_refusal_rate'
),

corners as (
    select
        cells.*,
        {{ quant_safety.regime_rule(q_lo, r_lo) }} as regime_low_low,
        {{ quant_safety.regime_rule(q_lo, r_hi) }} as regime_low_high,
        {{ quant_safety.regime_rule(q_hi, r_lo) }} as regime_high_low,
        {{ quant_safety.regime_rule(q_hi, r_hi) }} as regime_high_high
    from cells
),

baseline_refusal as (
    select
        cells.base_model,
        cells.quant,
        base.safety_refusal_rate as baseline_refusal_rate,
        base.safety_refusal_rate_n as baseline_refusal_n
    from cells
    inner join {{ ref('int_cell_metrics') }} as base
        on base.base_model = cells.base_model and base.quant = cells.baseline_quant
),

mde as (
    select
        baseline_refusal.*,
        {{ quant_safety.refusal_drop_mde_pp('baseline_refusal.baseline_refusal_rate', 'cells.refusal_n', 'baseline_refusal.baseline_refusal_n') }} as refusal_drop_mde_pp
    from baseline_refusal
    inner join cells
        on cells.base_model = baseline_refusal.base_model and cells.quant = baseline_refusal.quant
)

select
    corners.base_model,
    corners.quant,
    corners.baseline_quant,
    corners.is_baseline,
    corners.regime,
    corners.quality_axis,
    corners.quality_axis_delta_pp,
    corners.quality_axis_delta_ci_lo,
    corners.quality_axis_delta_ci_hi,
    corners.safety_refusal_rate_delta_pp,
    corners.refusal_delta_ci_lo,
    corners.refusal_delta_ci_hi,
    case
        when corners.regime not in ('hidden_danger', 'near_hidden_danger', 'neutral') then 'not_applicable'
        when corners.regime_low_low is null or corners.regime_low_high is null
            or corners.regime_high_low is null or corners.regime_high_high is null then 'not_assessable'
        when corners.regime_low_low = corners.regime and corners.regime_low_high = corners.regime
            and corners.regime_high_low = corners.regime and corners.regime_high_high = corners.regime then 'robust'
        else 'fragile'
    end as regime_confidence,
    case when corners.regime in ('hidden_danger', 'near_hidden_danger', 'neutral')
        and corners.regime_low_low is not null and corners.regime_low_high is not null
        and corners.regime_high_low is not null and corners.regime_high_high is not null then
        substr(
            {%- for r in ['hidden_danger', 'near_hidden_danger', 'neutral'] %}
            case when '{{ r }}' in (corners.regime_low_low, corners.regime_low_high, corners.regime_high_low, corners.regime_high_high)
                then '|{{ r }}' else '' end{% if not loop.last %} ||{% endif %}
            {%- endfor %},
            2)
    end as regimes_within_intervals,
    mde.baseline_refusal_rate,
    case when not corners.is_baseline then mde.refusal_drop_mde_pp end as refusal_drop_mde_pp,
    case when not corners.is_baseline and mde.baseline_refusal_rate is not null and corners.refusal_n > 0
        then coalesce(mde.refusal_drop_mde_pp <= {{ var('refusal_drop_pp') }}, false)
    end as refusal_drop_threshold_detectable
from corners
left join mde
    on mde.base_model = corners.base_model and mde.quant = corners.quant
