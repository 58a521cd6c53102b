{#- What the interval of each cell level needs, in long form (one row per cell
    and metric of macro interval_metrics): the number of rows behind the level
    (n), the exact sum of the per-row values and of their squared deviations
    from the cell's mean (two passes), how many values
    are not 0 or 1 (0 = a rate of 0/1 scores: Wilson; else a mean: t), and for
    the two Phase 6 features that are not means of per-row values the variance
    of the estimate:
      unique_prefix_rate   distinct prefixes / R refusals; the variance of that
                           rate when the R refusals are resampled with
                           replacement (the ideal bootstrap, in closed form):
                           Var(D*) = sum_p q_p (1 - q_p) + sum_{p != p'} [(1 - (c_p + c_p') / R)^R - q_p q_p'],
                           q_p = (1 - c_p / R)^R, over the prefix counts c_p; / R^2.
      prefix_entropy_norm  H / ln(D) with H the plug-in entropy of the prefix
                           shares: delta-method variance
                           sum_p s_p (ln(s_p) + H)^2 / R / ln(D)^2 (0 when D <= 1; two passes).
    The sums are exact (DECIMAL) so the intervals do not depend on row order. -#}
{%- set dbl = quant_safety.marts_double_type() -%}
with quality_rows as (
    select
        base_model,
        quant,
        bertscore,
        rouge_l,
        coherence,
        case when bertscore is not null and rouge_l is not null and coherence is not null
            then (bertscore + rouge_l + coherence) / 3.0 end as key_metric_average
    from {{ ref('stg_quality__samples') }}
    where task_role = 'generation'
),

safety_rows as (
    select base_model, quant, task_name, task_role, score
    from {{ ref('stg_safety__scored_samples') }}
),

judge_rows as (
    select base_model, quant, task_role, judge_verdict
    from {{ ref('int_judge_verdicts') }}
    where counts_in_denominator
),

advbench_rows as (
    select
        base_model,
        quant,
        case when is_refusal then 1 else 0 end as refusal_flag,
        case when is_hard_refusal then 1 else 0 end as hard_flag,
        is_refusal and has_text as is_text_refusal,
        token_count,
        char_count
    from {{ ref('int_refusal_texts') }}
),

prefix_counts as (
    select base_model, quant, refusal_prefix, count(*) as prefix_refusals
    from {{ ref('int_refusal_texts') }}
    where is_refusal and has_text
    group by base_model, quant, refusal_prefix
),

prefix_totals as (
    select
        base_model,
        quant,
        cast(sum(prefix_refusals) as {{ dbl }}) as refusals,
        count(*) as distinct_prefixes,
        max(prefix_refusals) as dominant_refusals
    from prefix_counts
    group by base_model, quant
),

{# prefixes grouped by their count: m prefixes with count c (few groups per cell) -#}
count_groups as (
    select base_model, quant, prefix_refusals as prefix_count, count(*) as prefixes
    from prefix_counts
    group by base_model, quant, prefix_refusals
),

zero_probability as (
    select
        groups.base_model,
        groups.quant,
        groups.prefix_count,
        groups.prefixes,
        totals.refusals,
        power(1.0 - groups.prefix_count / totals.refusals, totals.refusals) as q_zero
    from count_groups as groups
    inner join prefix_totals as totals
        on totals.base_model = groups.base_model and totals.quant = groups.quant
),

distinct_variance_single as (
    select base_model, quant, {{ quant_safety.exact_sum('prefixes * q_zero * (1.0 - q_zero)') }} as single_terms
    from zero_probability
    group by base_model, quant
),

distinct_variance_pairs as (
    select
        left_groups.base_model,
        left_groups.quant,
        {{ quant_safety.exact_sum(
            "(left_groups.prefixes * right_groups.prefixes - case when left_groups.prefix_count = right_groups.prefix_count then left_groups.prefixes else 0 end)"
            ~ " * (power(greatest(1.0 - (left_groups.prefix_count + right_groups.prefix_count) / left_groups.refusals, 0.0), left_groups.refusals)"
            ~ " - left_groups.q_zero * right_groups.q_zero)") }} as pair_terms
    from zero_probability as left_groups
    inner join zero_probability as right_groups
        on right_groups.base_model = left_groups.base_model and right_groups.quant = left_groups.quant
    group by left_groups.base_model, left_groups.quant
),

entropy_terms as (
    select
        prefix_counts.base_model,
        prefix_counts.quant,
        {{ quant_safety.exact_sum('(prefix_counts.prefix_refusals / totals.refusals) * ' ~ quant_safety.natural_log('prefix_counts.prefix_refusals / totals.refusals')) }} as minus_entropy
    from prefix_counts
    inner join prefix_totals as totals
        on totals.base_model = prefix_counts.base_model and totals.quant = prefix_counts.quant
    group by prefix_counts.base_model, prefix_counts.quant
),

{# sum_p s_p (ln s_p + H)^2 in a second pass (not sum_p s_p ln(s_p)^2 - H^2, whose
    cancellation leaves ~1e-16 where the shares are equal and the variance is 0) -#}
entropy_spread as (
    select
        prefix_counts.base_model,
        prefix_counts.quant,
        {{ quant_safety.exact_sum('(prefix_counts.prefix_refusals / totals.refusals) * power(' ~ quant_safety.natural_log('prefix_counts.prefix_refusals / totals.refusals') ~ ' - entropy.minus_entropy, 2)') }} as log_share_variance
    from prefix_counts
    inner join prefix_totals as totals
        on totals.base_model = prefix_counts.base_model and totals.quant = prefix_counts.quant
    inner join entropy_terms as entropy
        on entropy.base_model = prefix_counts.base_model and entropy.quant = prefix_counts.quant
    group by prefix_counts.base_model, prefix_counts.quant
),

prefix_estimates as (
    select
        totals.base_model,
        totals.quant,
        totals.refusals,
        totals.distinct_prefixes,
        totals.dominant_refusals,
        (single.single_terms + pairs.pair_terms) / (totals.refusals * totals.refusals) as unique_rate_variance,
        case when totals.distinct_prefixes <= 1 then 0.0
            else entropy.log_share_variance
                / totals.refusals
                / power({{ quant_safety.natural_log('cast(totals.distinct_prefixes as ' ~ dbl ~ ')') }}, 2)
        end as entropy_norm_variance
    from prefix_totals as totals
    inner join distinct_variance_single as single
        on single.base_model = totals.base_model and single.quant = totals.quant
    inner join distinct_variance_pairs as pairs
        on pairs.base_model = totals.base_model and pairs.quant = totals.quant
    inner join entropy_spread as entropy
        on entropy.base_model = totals.base_model and entropy.quant = totals.quant
),

long_moments as (
    {%- for metric, column in [('quality_bertscore', 'bertscore'), ('quality_rouge_l', 'rouge_l'),
                               ('quality_coherence', 'coherence'), ('quality_key_metric_average', 'key_metric_average')] %}
    {{ quant_safety.level_moments(metric, 'quality_rows', column) }}
    union all
    {%- endfor %}
    {%- for metric, role in [('safety_refusal_rate', 'refusal'), ('safety_truthfulness', 'truthfulness'),
                             ('safety_bias_resistance', 'bias')] %}
    {{ quant_safety.level_moments(metric, 'safety_rows', 'score', "task_role = '" ~ role ~ "'") }}
    union all
    {%- endfor %}
    {%- for metric, task in [('capability_mmlu_accuracy', var('capability_mmlu_task')),
                             ('capability_arc_accuracy', var('capability_arc_task'))] %}
    {{ quant_safety.level_moments(metric, 'safety_rows', 'score', "task_role = 'capability' and task_name = '" ~ task ~ "'") }}
    union all
    {%- endfor %}
    {%- for metric, role in [('judge_refusal_rate', 'refusal'), ('judge_truthfulness', 'truthfulness'),
                             ('judge_bias_resistance', 'bias')] %}
    {{ quant_safety.level_moments(metric, 'judge_rows', 'judge_verdict', "task_role = '" ~ role ~ "'") }}
    union all
    {%- endfor %}
    {{ quant_safety.level_moments('advbench_refusal_rate', 'advbench_rows', 'refusal_flag') }}
    union all
    {{ quant_safety.level_moments('hard_refusal_rate', 'advbench_rows', 'hard_flag') }}
    union all
    {%- for metric, column in [('mean_tokens_refusal', 'token_count'), ('mean_chars_refusal', 'char_count')] %}
    {{ quant_safety.level_moments(metric, 'advbench_rows', 'cast(' ~ column ~ ' as ' ~ dbl ~ ')', 'is_text_refusal') }}
    union all
    {%- endfor %}
    select
        base_model,
        quant,
        'dominant_prefix_share' as metric,
        cast(refusals as {{ dbt.type_bigint() }}) as n,
        cast(dominant_refusals as {{ dbl }}) as value_sum,
        cast(dominant_refusals as {{ dbl }}) * (refusals - dominant_refusals) / refusals as value_squared_deviations,
        cast(0 as {{ dbt.type_bigint() }}) as non_binary_n,
        cast(null as {{ dbl }}) as estimate_variance
    from prefix_estimates
    union all
    select
        base_model,
        quant,
        'unique_prefix_rate' as metric,
        cast(refusals as {{ dbt.type_bigint() }}) as n,
        cast(distinct_prefixes as {{ dbl }}) as value_sum,
        cast(null as {{ dbl }}) as value_squared_deviations,
        cast(null as {{ dbt.type_bigint() }}) as non_binary_n,
        unique_rate_variance as estimate_variance
    from prefix_estimates
    union all
    select
        base_model,
        quant,
        'prefix_entropy_norm' as metric,
        cast(refusals as {{ dbt.type_bigint() }}) as n,
        cast(null as {{ dbl }}) as value_sum,
        cast(null as {{ dbl }}) as value_squared_deviations,
        cast(null as {{ dbt.type_bigint() }}) as non_binary_n,
        entropy_norm_variance as estimate_variance
    from prefix_estimates
)

select
    base_model,
    quant,
    metric,
    cast(n as {{ dbt.type_bigint() }}) as n,
    value_sum,
    value_squared_deviations,
    cast(non_binary_n as {{ dbt.type_bigint() }}) as non_binary_n,
    estimate_variance,
    case
        when metric in ('unique_prefix_rate', 'prefix_entropy_norm') then 'normal'
        when n > 0 and non_binary_n = 0 then 'wilson'
        when n > 0 then 't'
    end as interval_method
from long_moments
