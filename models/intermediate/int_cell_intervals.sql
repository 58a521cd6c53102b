{#- 95% intervals of every cell level and of its delta against the model's
    baseline cell, one row per (cell, metric of macro interval_metrics); the
    matrix carries the same bounds as <metric>_ci_lo / _ci_hi and
    <delta>_ci_lo / _ci_hi. Methods (macros/marts/intervals.sql):
      level  wilson (0/1 scores), t (other scores: quality, {0, 0.5, 1}
             truthfulness, token counts), normal (unique-prefix rate, prefix
             entropy: closed-form standard errors);
      delta  newcombe (both levels wilson), welch (otherwise); a baseline cell's
             delta is 0 against itself and its interval [0, 0].
    advbench_refusals (a count) takes advbench_refusal_rate's bounds times
    advbench_n; its delta interval exists when both cells have the same n.
    NULL where the level is NULL or too few rows (n < 2 for t). -#}
{%- set metrics = quant_safety.interval_metrics() -%}
{%- set dbl = quant_safety.marts_double_type() -%}
{%- set z = quant_safety.normal_quantile_975() -%}
with cells as (
    select * from {{ ref('int_cell_deltas') }}
),

levels as (
    {%- for m in metrics %}
    select
        base_model,
        quant,
        baseline_quant,
        is_baseline,
        has_baseline_cell,
        '{{ m.name }}' as metric,
        '{{ m.unit }}' as delta_unit,
        cast({{ m.name }} as {{ dbl }}) as level,
        cast({{ m.name }}{{ '_delta_pp' if m.unit == 'pp' else '_delta' }} as {{ dbl }}) as delta,
        cast(advbench_n as {{ dbt.type_bigint() }}) as advbench_n
    from cells
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

moments as (
    select
        base_model,
        quant,
        case when metric = 'advbench_refusal_rate' then 'advbench_refusals' else metric end as metric,
        n,
        interval_method,
        case when interval_method = 'normal' then sqrt(estimate_variance)
            else {{ quant_safety.sd_from_squared_deviations('n', 'value_squared_deviations') }} / sqrt(cast(n as {{ dbl }}))
        end as standard_error
    from {{ ref('int_cell_level_moments') }}
    where metric = 'advbench_refusal_rate'
    union all
    select
        base_model,
        quant,
        metric,
        n,
        interval_method,
        case when interval_method = 'normal' then sqrt(estimate_variance)
            else {{ quant_safety.sd_from_squared_deviations('n', 'value_squared_deviations') }} / sqrt(cast(n as {{ dbl }}))
        end as standard_error
    from {{ ref('int_cell_level_moments') }}
),

{#- the rate behind a count metric (advbench_refusals = rate x advbench_n) -#}
with_moments as (
    select
        levels.*,
        case when levels.metric = 'advbench_refusals' and levels.advbench_n > 0
            then levels.level / levels.advbench_n else levels.level end as rate_level,
        case when levels.metric = 'advbench_refusals' then cast(levels.advbench_n as {{ dbl }}) else 1.0 end as scale,
        moments.n,
        moments.interval_method,
        moments.standard_error
    from levels
    left join moments
        on moments.base_model = levels.base_model
        and moments.quant = levels.quant
        and moments.metric = levels.metric
),

level_bounds as (
    select
        *,
        case
            when level is null or n is null or n = 0 then null
            when interval_method = 'wilson' then {{ quant_safety.wilson_lower('rate_level', 'n') }}
            when interval_method = 't' then rate_level - {{ quant_safety.t_quantile_975('n - 1') }} * standard_error
            when interval_method = 'normal' then rate_level - {{ z }} * standard_error
        end as raw_lo,
        case
            when level is null or n is null or n = 0 then null
            when interval_method = 'wilson' then {{ quant_safety.wilson_upper('rate_level', 'n') }}
            when interval_method = 't' then rate_level + {{ quant_safety.t_quantile_975('n - 1') }} * standard_error
            when interval_method = 'normal' then rate_level + {{ z }} * standard_error
        end as raw_hi
    from with_moments
),

clamped as (
    select
        *,
        case metric
            {%- for m in metrics %}
            when '{{ m.name }}' then scale * {{ quant_safety.clamp('raw_lo', m.lo, m.hi) }}
            {%- endfor %}
        end as level_ci_lo,
        case metric
            {%- for m in metrics %}
            when '{{ m.name }}' then scale * {{ quant_safety.clamp('raw_hi', m.lo, m.hi) }}
            {%- endfor %}
        end as level_ci_hi
    from level_bounds
),

paired as (
    select
        cell.*,
        base.rate_level as base_rate_level,
        base.n as base_n,
        base.interval_method as base_interval_method,
        base.standard_error as base_standard_error,
        base.raw_lo as base_raw_lo,
        base.raw_hi as base_raw_hi,
        base.scale as base_scale,
        cell.standard_error * cell.standard_error as variance_cell,
        base.standard_error * base.standard_error as variance_base
    from clamped as cell
    left join clamped as base
        on base.base_model = cell.base_model
        and base.quant = cell.baseline_quant
        and base.metric = cell.metric
),

welch as (
    select
        *,
        case
            when interval_method = 'wilson' and base_interval_method = 'wilson' then 'newcombe'
            when standard_error is not null and base_standard_error is not null then 'welch'
        end as delta_method,
        {#- a normal-method side counts with infinite df -#}
        case
            when interval_method is null or base_interval_method is null then null
            when interval_method = 'normal' and base_interval_method = 'normal' then null
            when interval_method = 'normal'
                then {{ quant_safety.welch_df('variance_cell', 'infinite', 'variance_base', 'base_n - 1') }}
            when base_interval_method = 'normal'
                then {{ quant_safety.welch_df('variance_cell', 'n - 1', 'variance_base', 'infinite') }}
            else {{ quant_safety.welch_df('variance_cell', 'n - 1', 'variance_base', 'base_n - 1') }}
        end as welch_df
    from paired
),

delta_bounds as (
    select
        *,
        case when delta_unit = 'pp' then 100.0 else 1.0 end as delta_scale,
        case when welch_df is null then {{ z }} else {{ quant_safety.t_quantile_975('welch_df') }} end as welch_t
    from welch
)

select
    base_model,
    quant,
    metric,
    is_baseline,
    level,
    n,
    interval_method as level_ci_method,
    level_ci_lo,
    level_ci_hi,
    delta_unit,
    delta,
    case
        when delta is null then null
        when is_baseline then 'baseline'
        when metric = 'advbench_refusals' and n <> base_n then null
        else delta_method
    end as delta_ci_method,
    case
        when delta is null then null
        when is_baseline then 0.0
        when metric = 'advbench_refusals' and n <> base_n then null
        when delta_method = 'newcombe'
            then delta_scale * scale * {{ quant_safety.newcombe_lower('rate_level', 'raw_lo', 'base_rate_level', 'base_raw_hi') }}
        when delta_method = 'welch'
            then delta - delta_scale * scale * welch_t * sqrt(variance_cell + variance_base)
    end as delta_ci_lo,
    case
        when delta is null then null
        when is_baseline then 0.0
        when metric = 'advbench_refusals' and n <> base_n then null
        when delta_method = 'newcombe'
            then delta_scale * scale * {{ quant_safety.newcombe_upper('rate_level', 'raw_hi', 'base_rate_level', 'base_raw_lo') }}
        when delta_method = 'welch'
            then delta + delta_scale * scale * welch_t * sqrt(variance_cell + variance_base)
    end as delta_ci_hi
from delta_bounds
