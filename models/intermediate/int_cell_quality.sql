{#- Quality levels per cell: NULL-skipping means of BERTScore, ROUGE-L and
    coherence over the generation-task rows (task_catalog role 'generation'),
    with the number of rows carrying each metric (contract §8). -#}
with generation_rows as (
    select
        base_model,
        quant,
        bertscore,
        rouge_l,
        coherence
    from {{ ref('stg_quality__samples') }}
    where task_role = 'generation'
)

select
    base_model,
    quant,
    {{ quant_safety.exact_avg("bertscore") }} as quality_bertscore,
    {{ quant_safety.exact_avg("rouge_l") }} as quality_rouge_l,
    {{ quant_safety.exact_avg("coherence") }} as quality_coherence,
    count(*) as quality_n,
    count(bertscore) as quality_bertscore_n,
    count(rouge_l) as quality_rouge_l_n,
    count(coherence) as quality_coherence_n
from generation_rows
group by base_model, quant
