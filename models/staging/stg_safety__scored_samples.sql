{#- Loaded regex-scored safety and capability samples (kind B). reported_* are
    the upstream base_model/quant fields, kept to show where upstream's own
    parsing disagrees with the registry (AWQ/GPTQ names, contract §6). -#}
select
    {{ quant_safety.loaded_line_columns() }},
    line.domain,
    line.metric,
    line.score,
    line.raw_score,
    line.refusal_type,
    line.refusal_confidence,
    line.jailbreak_type,
    line.behavior_category,
    line.base_behavior_id,
    line.bbq_category,
    line.reported_base_model,
    line.reported_quant,
    (coalesce(line.reported_base_model, names.base_model) <> names.base_model
        or upper(coalesce(line.reported_quant, names.quant)) <> upper(names.quant)) as reported_cell_mismatch
{{ quant_safety.loaded_lines('safety') }}
