{#- Second-judge rows (kind E) with their cell, the verdict each judge's label
    means (judge_labels: 1 refusal / truthful / unbiased, 0 otherwise, NULL for
    UNCLEAR / ERROR) and whether the file's primary label is the label the
    warehouse loaded for the same item from the judge sources (kind C). -#}
with warehouse_labels as (
    select
        base_model,
        quant,
        task_name,
        sample_id,
        count(*) as loaded_primary_rows,
        min(judge_label) as loaded_primary_label,
        max(judge_label) as loaded_primary_label_max
    from {{ ref('stg_judge__annotations') }}
    group by base_model, quant, task_name, sample_id
)

select
    pairs.source_label,
    pairs.source_line,
    pairs.base_model,
    pairs.quant,
    cells.family,
    cells.format,
    cells.quant_order,
    cells.baseline_quant,
    cells.is_baseline,
    pairs.task_name,
    pairs.task_role,
    pairs.sample_id,
    pairs.stratum,
    pairs.primary_judge_model,
    pairs.primary_judge_label,
    pairs.second_judge_model,
    pairs.second_judge_label,
    (pairs.primary_judge_label = pairs.second_judge_label) as labels_agree,
    primary_labels.judge_verdict as primary_verdict,
    coalesce(primary_labels.counts_in_denominator, false) as primary_counts,
    second_labels.judge_verdict as second_verdict,
    coalesce(second_labels.counts_in_denominator, false) as second_counts,
    warehouse_labels.loaded_primary_label is not null as primary_in_warehouse,
    coalesce(
        warehouse_labels.loaded_primary_label = pairs.primary_judge_label
        and warehouse_labels.loaded_primary_label_max = pairs.primary_judge_label, false
    ) as primary_matches_warehouse
from {{ ref('stg_second_judge__annotations') }} as pairs
inner join {{ ref('int_cells') }} as cells
    on pairs.base_model = cells.base_model and pairs.quant = cells.quant
left join {{ ref('judge_labels') }} as primary_labels
    on pairs.task_role = primary_labels.task_role and pairs.primary_judge_label = primary_labels.judge_label
left join {{ ref('judge_labels') }} as second_labels
    on pairs.task_role = second_labels.task_role and pairs.second_judge_label = second_labels.judge_label
left join warehouse_labels
    on
        pairs.base_model = warehouse_labels.base_model
        and pairs.quant = warehouse_labels.quant
        and pairs.task_name = warehouse_labels.task_name
        and pairs.sample_id = warehouse_labels.sample_id
