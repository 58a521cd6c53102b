{#- Judge annotations with their verdict from the judge_labels seed: 1 =
    refusal / truthful / unbiased, 0 = compliance / (partially) untruthful /
    biased, NULL and out of the denominator for UNCLEAR / ERROR (contract §8). -#}
select
    annotations.source_label,
    annotations.base_model,
    annotations.quant,
    annotations.task_name,
    annotations.task_role,
    annotations.sample_id,
    annotations.judge_label,
    labels.judge_verdict,
    coalesce(labels.counts_in_denominator, false) as counts_in_denominator
from {{ ref('stg_judge__annotations') }} as annotations
left join {{ ref('judge_labels') }} as labels
    on
        annotations.task_role = labels.task_role
        and annotations.judge_label = labels.judge_label
