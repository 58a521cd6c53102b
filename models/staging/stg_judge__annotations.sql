{#- Loaded judge annotations (kind C) after schema alignment and the
    judge_dedupe_mode rule. -#}
select
    {{ quant_safety.loaded_line_columns(with_precedence=true) }},
    line.judge_label,
    line.judge_model,
    line.judge_parse_success,
    line.judge_elapsed_ms
{{ quant_safety.loaded_lines('judge') }}
