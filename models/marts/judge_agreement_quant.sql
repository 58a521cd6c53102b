{#- Regex-vs-judge agreement per safety task and quant level (SS15 Table 15) over
    the paired rows of int_judge_regex_pairs: N pairs, % agreement and Cohen's
    kappa = (p_o - p_e) / (1 - p_e), p_e from the two instruments' marginal
    verdict rates (NULL when p_e = 1). -#}
with pair_counts as (
    select
        pairs.task_name,
        pairs.task_role,
        pairs.quant,
        count(*) as n_pairs,
        count(distinct pairs.base_model) as models,
        {{ quant_safety.count_where('pairs.regex_verdict = pairs.judge_verdict') }} as agreeing_pairs,
        cast(sum(pairs.regex_verdict) as {{ dbt.type_bigint() }}) as regex_positive,
        cast(sum(pairs.judge_verdict) as {{ dbt.type_bigint() }}) as judge_positive
    from {{ ref('int_judge_regex_pairs') }} as pairs
    group by pairs.task_name, pairs.task_role, pairs.quant
),

proportions as (
    select
        *,
        cast(agreeing_pairs as {{ quant_safety.marts_double_type() }}) / n_pairs as observed_agreement,
        (cast(regex_positive as {{ quant_safety.marts_double_type() }}) / n_pairs) * (cast(judge_positive as {{ quant_safety.marts_double_type() }}) / n_pairs)
        + (cast(n_pairs - regex_positive as {{ quant_safety.marts_double_type() }}) / n_pairs)
        * (cast(n_pairs - judge_positive as {{ quant_safety.marts_double_type() }}) / n_pairs) as chance_agreement
    from pair_counts
)

select
    proportions.task_name,
    proportions.task_role,
    proportions.quant,
    levels.format,
    levels.precision_order as quant_order,
    proportions.models,
    proportions.n_pairs,
    proportions.agreeing_pairs,
    proportions.regex_positive,
    proportions.judge_positive,
    100.0 * proportions.observed_agreement as agreement_pct,
    proportions.chance_agreement,
    case
        when proportions.chance_agreement < 1
            then (proportions.observed_agreement - proportions.chance_agreement) / (1 - proportions.chance_agreement)
    end as cohen_kappa
from proportions
left join {{ ref('stg_registry__quant_levels') }} as levels
    on proportions.quant = levels.quant
