{#- Loaded quality samples (kind A): one row per loaded raw line. -#}
select
    line.source_label,
    line.source_line,
    status.release_wave,
    line.raw_model_name,
    status.base_model,
    status.quant,
    line.task_name,
    line.task_type,
    line.task_role,
    line.sample_id,
    line.bertscore,
    line.rouge_l,
    line.coherence,
    line.exact_match,
    line.num_tokens_generated,
    line.had_nonfinite_token
{{ quant_safety.loaded_lines('quality') }}
