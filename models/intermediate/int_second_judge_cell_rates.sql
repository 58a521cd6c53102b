{#- Judge refusal rates per cell on the second-judge subset (report Appendix F):
    the primary and the second judge's refusal rate (FULL + PARTIAL refusals /
    FULL + PARTIAL + COMPLIANCE over the refusal-task rows of the subset;
    UNCLEAR / ERROR leave the judge's denominator), the second judge's shift
    on the same rows (second - primary, pp), and each judge's delta against its
    own rate on the model's baseline cell (pp), with the Newcombe 95% interval
    of the second judge's delta. The warehouse's primary judge delta over all
    judged rows (matrix.judge_refusal_rate_delta_pp) is beside them, and the
    cell's coverage (second-judge rows of every task against the primary judge
    rows the warehouse loaded for the cell). -#}
{%- set dbl = quant_safety.marts_double_type() -%}
with refusal_pairs as (
    select *
    from {{ ref('int_second_judge_pairs') }}
    where task_role = 'refusal'
),

{# coverage: the cell's second-judge rows (every task) against its loaded primary judge rows
   (ST05 noqa: two grouped counts joined; a CTE each would only name them) -#}
coverage as (
    select
        subset.second_judge_model,
        subset.base_model,
        subset.quant,
        subset.subset_rows_all_tasks,
        coalesce(judged.judged_rows, 0) as judged_rows
    from (  -- noqa: ST05
        select second_judge_model, base_model, quant, count(*) as subset_rows_all_tasks
        from {{ ref('int_second_judge_pairs') }}
        group by second_judge_model, base_model, quant
    ) as subset
    left join (  -- noqa: ST05
        select base_model, quant, count(*) as judged_rows
        from {{ ref('stg_judge__annotations') }}
        group by base_model, quant
    ) as judged
        on judged.base_model = subset.base_model and judged.quant = subset.quant
),

rates as (
    select
        second_judge_model,
        base_model,
        quant,
        max(baseline_quant) as baseline_quant,
        max(stratum) as stratum,
        count(*) as subset_rows,
        {{ quant_safety.count_where('primary_counts') }} as primary_n,
        cast(sum(case when primary_counts then primary_verdict else 0 end) as {{ dbl }}) as primary_refusals,
        {{ quant_safety.count_where('second_counts') }} as second_n,
        cast(sum(case when second_counts then second_verdict else 0 end) as {{ dbl }}) as second_refusals
    from refusal_pairs
    group by second_judge_model, base_model, quant
),

with_rates as (
    select
        *,
        case when primary_n > 0 then primary_refusals / primary_n end as primary_refusal_rate,
        case when second_n > 0 then second_refusals / second_n end as second_refusal_rate
    from rates
),

bounded as (
    select
        *,
        {{ quant_safety.wilson_lower('second_refusal_rate', 'second_n') }} as second_ci_lo,
        {{ quant_safety.wilson_upper('second_refusal_rate', 'second_n') }} as second_ci_hi
    from with_rates
)

select
    cell.second_judge_model,
    cell.base_model,
    cell.quant,
    cell.baseline_quant,
    cell.base_model is not null and cell.quant = cell.baseline_quant as is_baseline,
    cell.stratum,
    cast(coverage.subset_rows_all_tasks as {{ dbt.type_bigint() }}) as subset_rows_all_tasks,
    cast(coverage.judged_rows as {{ dbt.type_bigint() }}) as judged_rows,
    coverage.subset_rows_all_tasks >= coverage.judged_rows as full_coverage,
    cast(cell.subset_rows as {{ dbt.type_bigint() }}) as subset_rows,
    cell.primary_n,
    cell.primary_refusal_rate,
    cell.second_n,
    cell.second_refusal_rate,
    cell.second_ci_lo as second_refusal_rate_ci_lo,
    cell.second_ci_hi as second_refusal_rate_ci_hi,
    {{ quant_safety.delta_pp('cell.second_refusal_rate', 'cell.primary_refusal_rate') }} as refusal_shift_pp,
    {{ quant_safety.delta_pp('cell.primary_refusal_rate', 'base.primary_refusal_rate') }} as primary_refusal_delta_pp,
    {{ quant_safety.delta_pp('cell.second_refusal_rate', 'base.second_refusal_rate') }} as second_refusal_delta_pp,
    case when cell.quant <> cell.baseline_quant then 100.0 * {{ quant_safety.newcombe_lower(
        'cell.second_refusal_rate', 'cell.second_ci_lo', 'base.second_refusal_rate', 'base.second_ci_hi') }} end as second_refusal_delta_ci_lo,
    case when cell.quant <> cell.baseline_quant then 100.0 * {{ quant_safety.newcombe_upper(
        'cell.second_refusal_rate', 'cell.second_ci_hi', 'base.second_refusal_rate', 'base.second_ci_lo') }} end as second_refusal_delta_ci_hi,
    matrix_cells.judge_refusal_rate_delta_pp as warehouse_judge_refusal_delta_pp
from bounded as cell
left join bounded as base
    on base.second_judge_model = cell.second_judge_model
    and base.base_model = cell.base_model
    and base.quant = cell.baseline_quant
left join coverage
    on coverage.second_judge_model = cell.second_judge_model
    and coverage.base_model = cell.base_model
    and coverage.quant = cell.quant
left join {{ ref('int_cell_deltas') }} as matrix_cells
    on matrix_cells.base_model = cell.base_model and matrix_cells.quant = cell.quant
