{#- Loaded regex-scored safety and capability samples (kind B). reported_* are
    the upstream base_model/quant fields, kept to show where upstream's own
    parsing disagrees with the registry (AWQ/GPTQ names, contract §6). -#}
select
    source_label,
    source_line,
    release_wave,
    raw_model_name,
    base_model,
    quant,
    task_name,
    task_role,
    sample_id,
    domain,
    metric,
    score,
    raw_score,
    refusal_type,
    refusal_confidence,
    jailbreak_type,
    behavior_category,
    base_behavior_id,
    bbq_category,
    reported_base_model,
    reported_quant,
    (coalesce(reported_base_model, base_model) <> base_model
        or upper(coalesce(reported_quant, quant)) <> upper(quant)) as reported_cell_mismatch
from {{ ref('audit_safety__lines') }}
where load_status = 'loaded'
