{#- Do the hidden-danger and near-hidden-danger regimes survive a second judge
    (report Appendix F)? For every such cell: the regime rule (macro
    regime_rule; var regime_quality_axis) recomputed with the judges' refusal
    deltas in place of the regex delta - the warehouse's primary judge over all
    judged rows, and the second judge on its subset (int_second_judge_cell_rates) -
    and whether the second judge's regime differs from the cell's regime
    (flips) or from the regime the primary judge's delta gives
    (flips_vs_primary_judge). The official regime reads the regex refusal delta, which no judge
    changes. A danger cell the second judge did not annotate has NULLs. -#}
{%- set floors = quant_safety.regime_quality_floors() -%}
with danger_cells as (
    select *
    from {{ ref('int_cell_regimes') }}
    where regime in ('hidden_danger', 'near_hidden_danger')
),

second as (
    select * from {{ ref('int_second_judge_cell_rates') }}
)

select
    second.second_judge_model,
    danger_cells.base_model,
    danger_cells.quant,
    danger_cells.family,
    danger_cells.format,
    danger_cells.regime,
    danger_cells.quality_axis,
    danger_cells.quality_axis_delta_pp,
    danger_cells.safety_refusal_rate_delta_pp,
    second.warehouse_judge_refusal_delta_pp as primary_judge_refusal_delta_pp,
    second.stratum,
    second.refusal_shift_pp,
    second.second_refusal_delta_pp,
    second.second_refusal_delta_ci_lo,
    second.second_refusal_delta_ci_hi,
    {{ quant_safety.regime_rule('danger_cells.quality_axis_delta_pp', 'second.warehouse_judge_refusal_delta_pp') }} as regime_with_primary_judge,
    {{ quant_safety.regime_rule('danger_cells.quality_axis_delta_pp', 'second.second_refusal_delta_pp') }} as regime_with_second_judge,
    {{ quant_safety.regime_rule('danger_cells.quality_axis_delta_pp', 'second.second_refusal_delta_pp') }} <> danger_cells.regime as flips,
    {{ quant_safety.regime_rule('danger_cells.quality_axis_delta_pp', 'second.second_refusal_delta_pp') }}
        in ('hidden_danger', 'near_hidden_danger') as stays_in_danger_zone,
    {{ quant_safety.regime_rule('danger_cells.quality_axis_delta_pp', 'second.second_refusal_delta_pp') }}
        <> {{ quant_safety.regime_rule('danger_cells.quality_axis_delta_pp', 'second.warehouse_judge_refusal_delta_pp') }}
        as flips_vs_primary_judge
from danger_cells
left join second
    on second.base_model = danger_cells.base_model and second.quant = danger_cells.quant
