{#- The claim ledger (Appendix E.1 claim_ledger.csv, E.4): every quantitative
    claim of the report (seed `claims`: published value, unit, section,
    tolerance = the report's stated precision, contradicting values and the
    inconsistencies.md item) joined to a value COMPUTED here from the marts and
    statistics tables — no computed value is typed anywhere.

    How each claim is computed is data: one row of the seed claim_computations
    per output (relation, aggregate, value column, bundle filter, optional test
    against a dbt var) and its filters in claim_computation_filters, expanded
    into one scalar query per output by the macro quant_safety.claim_computations
    (macros/reporting/claim_computations.sql):
      computed_value         on the whole warehouse (the report's 51-cell bundle on
                             the demo data);
      computed_value_47cell  optional, on the older 47-cell bundle (cells whose
                             sources all belong to release wave 1; stats scope
                             through_wave_1), used to say which of two contradicting
                             published numbers the data support;
      computed_text          a categorical claim (compared with published_category).
    The relations the seed may name are the CTEs below (`relations`); the derived
    ones hold the joins and per-cell predicates some claims need. Only the matrix
    width (MTX_001, MTX_002) stays SQL here: it counts the built relation's
    columns (the adapter's catalog at compile time), not rows.

    status: reproduced   |computed - published| <= tolerance (or equal category), on
                         data that could have disagreed;
            by_construction  the same match, but on the synthetic demo data (provenance
                         below) for a claim computed only from values the demo is
                         calibrated to (claims.demo_calibrated): true by construction;
            differs      otherwise, with status_reason = the seed's reason (which
                         bundle / inconsistencies.md item) or 'UNEXPLAINED ...';
            not_computable  the warehouse holds no data for the claim. -#}
{{ config(tags = ['reads_statistics']) }}
{%- set relations = ['cells', 'regime_cells', 'asym', 'gaps', 'quality_gate_cells', 'q5', 'floors', 'deployment',
                     'reconciliation', 'sign_reversals', 'pooled_corr', 'within_corr', 'within_model_signs', 'style_corr',
                     'loqo', 'mixed', 'sj_agree', 'sj_conf', 'sj_cells', 'sj_cells_with_regime', 'sj_cells_with_format',
                     'sj_regime', 'judge_agree', 'judge_pairs', 'table_values'] -%}
{%- set computations = quant_safety.claim_computations(ref('claim_computations'), ref('claim_computation_filters'), relations) -%}
{#- matrix width: the built relation's columns, and those the report defines -#}
{%- set matrix_columns = adapter.get_columns_in_relation(ref('matrix')) | map(attribute='name') | map('lower') | list if execute else [] -%}
{%- do computations.append({'id': 'MTX_001', 'value': "select " ~ (matrix_columns | length), 'value_47cell': none, 'text': none}) -%}
{%- do computations.append({'id': 'MTX_002', 'value': "select " ~ (quant_safety.report_matrix_columns() | select('in', matrix_columns) | list | length),
                            'value_47cell': none, 'text': none}) -%}
{%- set dbl = quant_safety.marts_double_type() -%}
{%- set txt = dbt.type_string() -%}
{%- set tight = quant_safety.sql_number(var('floor_tight_tolerance_pp'), 'floor_tight_tolerance_pp') -%}
{%- set drop = quant_safety.sql_number(var('refusal_drop_pp'), 'refusal_drop_pp') -%}
{#- sqlfluff: the relations below are one-line CTEs over the marts and statistics
    tables (with their filter on the same line), and the claim queries rendered from
    the seed rows read them unqualified; the layout and qualification rules that would
    split and qualify them are off for this file only. #}
-- noqa: disable=LT08,LT14,RF02,RF03,AM03
with cells as (
    select * from {{ ref('matrix') }}
),

regime_cells as (
    select regimes.*, cells.release_wave
    from {{ ref('regimes') }} as regimes
    inner join cells on cells.base_model = regimes.base_model and cells.quant = regimes.quant
),

asym as (
    select asymmetry.*, cells.release_wave
    from {{ ref('asymmetry') }} as asymmetry
    inner join cells on cells.base_model = asymmetry.base_model and cells.quant = asymmetry.quant
),

gaps as (
    select gap_rows.*, cells.release_wave
    from {{ ref('regex_vs_judge_gaps') }} as gap_rows
    inner join cells on cells.base_model = gap_rows.base_model and cells.quant = gap_rows.quant
),

{#- C7 quality gating: a BERTScore gate (delta >= -var floor_tight_tolerance_pp)
    and a regex refusal drop of more than var refusal_drop_pp, per cell -#}
quality_gate_cells as (
    select
        cells.*,
        quality_bertscore_delta_pp >= -{{ tight }} as passes_quality_gate,
        safety_refusal_rate_delta_pp < -{{ drop }} as refusal_drops
    from cells
),

model_families as (
    select distinct base_model, family from cells
),

q5 as (select * from {{ ref('q5_floor') }}),
floors as (select * from {{ ref('quant_floor') }}),
deployment as (select * from {{ ref('phase5_quant_deployment') }}),
reconciliation as (select * from {{ ref('audit_reconciliation') }}),
sign_reversals as (select * from {{ quant_safety.stats_ref('sign_reversal_summary') }}),
pooled_corr as (select * from {{ quant_safety.stats_ref('correlations') }} where is_pooled),
within_corr as (select * from {{ quant_safety.stats_ref('correlations') }} where not is_pooled),
{#- each within-model correlation with its model's family, and whether its r
    has the opposite sign of the pooled r of the same scope and metric pair -#}
within_model_signs as (
    select
        within_corr.scope,
        within_corr.quality_metric,
        within_corr.safety_metric,
        within_corr.model,
        model_families.family,
        within_corr.pearson_r * pooled_corr.pearson_r < 0 as opposes_pooled_sign
    from within_corr
    inner join model_families on model_families.base_model = within_corr.model
    inner join pooled_corr
        on pooled_corr.scope = within_corr.scope
        and pooled_corr.quality_metric = within_corr.quality_metric
        and pooled_corr.safety_metric = within_corr.safety_metric
),
style_corr as (select * from {{ quant_safety.stats_ref('phase6_style_correlations') }}),
loqo as (select * from {{ quant_safety.stats_ref('leave_one_quant_out') }}),
mixed as (select * from {{ quant_safety.stats_ref('mixed_models') }}),
{#- Appendix F is about one second judge: with several second-judge models in
    the kind-E files the claims read the one with the most rows (then by name). -#}
sj_model as (
    select second_judge_model
    from {{ ref('second_judge_agreement') }}
    where grouping = 'overall'
    order by n desc, second_judge_model
    limit 1
),
sj_agree as (select * from {{ ref('second_judge_agreement') }} where second_judge_model in (select second_judge_model from sj_model)),
sj_conf as (select * from {{ ref('second_judge_confusion') }} where second_judge_model in (select second_judge_model from sj_model)),
sj_cells as (select * from {{ ref('second_judge_cell_rates') }} where second_judge_model in (select second_judge_model from sj_model)),
sj_regime as (select * from {{ ref('second_judge_regime_stability') }} where second_judge_model in (select second_judge_model from sj_model)),
sj_cells_with_regime as (
    select sj_cells.*, regime_cells.regime
    from sj_cells
    inner join regime_cells on regime_cells.base_model = sj_cells.base_model and regime_cells.quant = sj_cells.quant
),
sj_cells_with_format as (
    select sj_cells.*, cells.format
    from sj_cells
    inner join cells on cells.base_model = sj_cells.base_model and cells.quant = sj_cells.quant
),
judge_agree as (select * from {{ ref('judge_agreement_quant') }}),
table_values as (select * from {{ ref('claim_values') }}),
judge_pairs as (
    select pairs.*, cells.release_wave
    from {{ ref('int_judge_regex_pairs') }} as pairs
    inner join cells on cells.base_model = pairs.base_model and cells.quant = pairs.quant
),

{#- Are the inputs the synthetic demo data? Decided by content in the
    pre-flight step (audit_source_provenance: quant_safety.demo.fingerprint, the
    same rule as the report's and the bundle's synthetic notes), so a user's
    own logs never count. On demo data a claim whose inputs are calibrated
    values (claims.demo_calibrated) holds by construction. -#}
provenance as (
    select coalesce(bool_and(inputs_are_demo), false) as inputs_are_demo
    from {{ ref('audit_source_provenance') }}
),

computed as (
    {%- for c in computations %}
    select
        {{ quant_safety.sql_string(c.id) }} as claim_id,
        {%- for slot, type in [('value', dbl), ('value_47cell', dbl), ('text', txt)] %}
        {%- if c[slot] is not none %}
        cast(({{ c[slot] }}) as {{ type }}) as computed_{{ slot }}{{ ',' if not loop.last }}
        {%- else %}
        cast(null as {{ type }}) as computed_{{ slot }}{{ ',' if not loop.last }}
        {%- endif %}
        {%- endfor %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

joined as (
    select
        claims.*,
        computed.computed_value,
        computed.computed_value_47cell,
        computed.computed_text,
        computed.claim_id is not null as has_computation,
        abs(computed.computed_value - claims.published_value) <= claims.tolerance + 1e-9 as matches_published,
        abs(computed.computed_value_47cell - claims.published_value) <= claims.tolerance + 1e-9 as matches_published_47cell,
        abs(computed.computed_value - claims.conflicting_published_value) <= claims.tolerance + 1e-9 as matches_conflicting,
        abs(computed.computed_value_47cell - claims.conflicting_published_value) <= claims.tolerance + 1e-9 as matches_conflicting_47cell
    from {{ ref('claims') }} as claims
    left join computed on computed.claim_id = claims.claim_id
),

classified as (
    select
        joined.*,
        case
            when computed_value is null and computed_text is null then 'not_computable'
            when (published_category is not null and computed_text = published_category)
                or (published_category is null and coalesce(matches_published, false))
                then case when provenance.inputs_are_demo and joined.demo_calibrated then 'by_construction' else 'reproduced' end
            else 'differs'
        end as status
    from joined
    cross join provenance
)

select
    claim_id,
    claim_group,
    claim_text,
    published_text,
    published_value,
    published_category,
    unit,
    tolerance,
    report_section,
    source_model,
    computed_value,
    computed_text,
    abs(computed_value - published_value) as abs_difference,
    computed_value_47cell,
    status,
    case
        when status = 'reproduced' then null
        when status = 'by_construction'
            then 'by construction: the inputs are the synthetic demo data, calibrated to the published values this claim is computed from'
        when reason is not null and status = 'differs' and coalesce(matches_published_47cell, false)
            then reason || ' [the published value matches the older 47-cell bundle (release wave 1)]'
        when reason is not null then reason
        when status = 'not_computable' then 'UNEXPLAINED: no computation for this claim'
        else 'UNEXPLAINED difference: investigate (no documented reason)'
    end as status_reason,
    case
        when status in ('not_computable', 'reproduced', 'by_construction') then null
        when coalesce(matches_published_47cell, false) then '47_cell_only'
        else 'none'
    end as bundle_match,
    conflicting_published_text,
    conflicting_published_value,
    case
        when conflicting_published_value is null or computed_value is null then null
        when coalesce(matches_published, false) then published_text
        when coalesce(matches_conflicting, false) then conflicting_published_text
    end as data_supports,
    case
        when conflicting_published_value is null or computed_value is null then null
        else
            case
                when coalesce(matches_published, false) then 'the 51-cell data support the published value'
                when coalesce(matches_conflicting, false) then 'the 51-cell data support the conflicting value'
                else 'the 51-cell data support neither value'
            end
            || case
                when coalesce(matches_conflicting_47cell, false) and not coalesce(matches_conflicting, false)
                    then '; the conflicting value is the older 47-cell bundle''s (release wave 1)'
                when coalesce(matches_published_47cell, false) and not coalesce(matches_published, false)
                    then '; the published value is the older 47-cell bundle''s (release wave 1)'
                else ''
            end
    end as conflict_resolution,
    inconsistency_item,
    demo_calibrated,
    note
from classified
