{#- Loaded quality samples (kind A): one row per loaded raw line. -#}
select
    {{ quant_safety.loaded_line_columns() }},
    line.task_type,
    line.bertscore,
    line.rouge_l,
    line.coherence,
    line.exact_match,
    line.num_tokens_generated,
    line.had_nonfinite_token
{{ quant_safety.loaded_lines('quality') }}
