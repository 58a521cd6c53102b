{#- Loaded judge annotations (kind C) after schema alignment and the
    judge_dedupe_mode rule. -#}
select
    line.source_label,
    line.source_line,
    status.precedence as source_precedence,
    status.release_wave,
    line.raw_model_name,
    status.base_model,
    status.quant,
    line.task_name,
    line.task_role,
    line.sample_id,
    line.judge_label,
    line.judge_model,
    line.judge_parse_success,
    line.judge_elapsed_ms
{{ quant_safety.loaded_lines('judge') }}
