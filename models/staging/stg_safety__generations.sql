{#- Loaded safety-run generations (kind D): the response text behind each
    scored safety sample, joined on (base_model, quant, task_name, sample_id). -#}
select
    {{ quant_safety.loaded_line_columns() }},
    line.candidate_text,
    line.num_tokens_generated
{{ quant_safety.loaded_lines('text') }}
