{#- Loaded safety-run generations (kind D): the response text behind each
    scored safety sample, joined on (base_model, quant, task_name, sample_id). -#}
select
    line.source_label,
    line.source_line,
    status.release_wave,
    line.raw_model_name,
    status.base_model,
    status.quant,
    line.task_name,
    line.task_role,
    line.sample_id,
    line.candidate_text,
    line.num_tokens_generated
{{ quant_safety.loaded_lines('text') }}
