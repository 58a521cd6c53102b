{#- Loaded second-judge annotations (kind E, report Appendix F): one row per
    (cell, task, sample) with the primary judge's and the second judge's label. -#}
select
    {{ quant_safety.loaded_line_columns(with_precedence=true) }},
    line.primary_judge_label,
    line.primary_judge_model,
    line.second_judge_label,
    line.second_judge_model,
    line.second_judge_parse_success,
    line.stratum
{{ quant_safety.loaded_lines('second_judge') }}
