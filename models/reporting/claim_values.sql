{#- Every published number of the report's tables that the warehouse computes
    (seed claim_values: report table, source table, row key, column, scale,
    the printed value and its precision), next to the computed value: one row
    per published number, for drilling into a table claim of the ledger
    (claim_ledger TAB_*: how many of a table's numbers reproduce). Row keys:
    cells 'base_model|quant'; statistics 'scope|...' as in the key columns of
    each table. A number whose row or column the warehouse lacks has a NULL
    computed value. -#}
{{ config(tags = ['reads_statistics']) }}
{%- set dbl = quant_safety.marts_double_type() -%}
{%- set txt = dbt.type_string() -%}
{%- set cell_key = "base_model || '|' || quant" -%}
{%- set pair_key = "scope || '|' || quality_metric || '|' || safety_metric" -%}
{%- set sources = [
    {'name': 'matrix', 'relation': ref('matrix'), 'key': cell_key,
     'numbers': ['quality_bertscore_delta_pp', 'safety_refusal_rate_delta_pp', 'judge_refusal_rate_delta_pp',
                 'safety_truthfulness_delta_pp', 'safety_bias_resistance_delta_pp', 'asymmetry_ratio',
                 'advbench_refusal_rate_delta', 'dominant_prefix_share_delta', 'unique_prefix_rate_delta',
                 'mean_tokens_refusal_delta', 'safety_refusal_rate', 'judge_refusal_rate', 'regex_judge_refusal_gap_pp'],
     'texts': ['regime', 'deployment_action'],
     'flags': ['safety_faster', 'template_destabilization', 'verbosity_shift']},
    {'name': 'correlations', 'relation': quant_safety.stats_ref('correlations'), 'key': pair_key ~ " || '|' || model",
     'numbers': ['n', 'pearson_r', 'pearson_p', 'spearman_rho', 'spearman_p'], 'texts': [], 'flags': []},
    {'name': 'phase6_style_correlations', 'relation': quant_safety.stats_ref('phase6_style_correlations'),
     'key': "scope || '|' || refusal_measure || '|' || style_metric",
     'numbers': ['pearson_r', 'pearson_p', 'spearman_rho', 'spearman_p'], 'texts': [], 'flags': []},
    {'name': 'bpw_regressions', 'relation': quant_safety.stats_ref('bpw_regressions'), 'key': "scope || '|' || base_model || '|' || metric",
     'numbers': ['slope', 'r2', 'p'], 'texts': [], 'flags': []},
    {'name': 'leave_one_quant_out', 'relation': quant_safety.stats_ref('leave_one_quant_out'), 'key': pair_key ~ " || '|' || dropped",
     'numbers': ['n', 'pearson_r', 'pearson_p', 'spearman_rho', 'spearman_p'], 'texts': [], 'flags': []},
    {'name': 'leave_one_model_out', 'relation': quant_safety.stats_ref('leave_one_model_out'), 'key': pair_key ~ " || '|' || dropped",
     'numbers': ['n', 'pearson_r', 'pearson_p', 'spearman_rho', 'spearman_p'], 'texts': [], 'flags': []},
    {'name': 'repeated_measures', 'relation': quant_safety.stats_ref('repeated_measures'), 'key': pair_key,
     'numbers': ['r', 'p', 'ci95_lo', 'ci95_hi', 'n', 'power'], 'texts': [], 'flags': []},
    {'name': 'phase5_quant_deployment', 'relation': ref('phase5_quant_deployment'), 'key': 'quant',
     'numbers': ['models', 'max_refusal_signal_pp', 'reject_rows'], 'texts': ['recommended_role'], 'flags': []},
    {'name': 'quant_floor', 'relation': ref('quant_floor'), 'key': 'quant',
     'numbers': ['models', 'mean_refusal_delta_pp', 'max_abs_refusal_delta_pp', 'mean_bertscore_delta_pp'], 'texts': [],
     'flags': ['all_within_tight_tolerance', 'all_within_tolerance']}
] -%}
with computed as (
    {%- for src in sources %}
    {%- set outer = loop %}
    {%- for col in src.numbers + src.texts + src.flags %}
    select
        '{{ src.name }}' as source_model,
        {{ src.key }} as row_key,
        '{{ col }}' as value_column,
        {%- if col in src.numbers %}
        cast({{ col }} as {{ dbl }}) as computed_value,
        cast(null as {{ txt }}) as computed_category
        {%- elif col in src.texts %}
        cast(null as {{ dbl }}) as computed_value,
        cast({{ col }} as {{ txt }}) as computed_category
        {%- else %}
        cast(null as {{ dbl }}) as computed_value,
        case when {{ col }} then 'true' when not {{ col }} then 'false' end as computed_category
        {%- endif %}
    from {{ src.relation }}
    {% if not (outer.last and loop.last) %}union all{% endif %}
    {%- endfor %}
    {%- endfor %}
)

select
    published.claim_id,
    published.report_table,
    published.source_model,
    published.row_key,
    published.value_column,
    published.printed,
    published.published_value,
    published.published_category,
    published.tolerance,
    published.scale * computed.computed_value as computed_value,
    computed.computed_category,
    abs(published.scale * computed.computed_value - published.published_value) as abs_difference,
    case
        when published.published_category is not null then computed.computed_category = published.published_category
        else abs(published.scale * computed.computed_value - published.published_value) <= published.tolerance + 1e-9
    end as reproduces
from {{ ref('claim_values_published') }} as published
left join computed
    on computed.source_model = published.source_model
    and computed.row_key = published.row_key
    and computed.value_column = published.value_column
