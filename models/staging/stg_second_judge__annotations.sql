{#- Loaded second-judge annotations (kind E, report Appendix F): one row per
    (cell, task, sample) with the primary judge's and the second judge's label. -#}
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
    line.primary_judge_label,
    line.primary_judge_model,
    line.second_judge_label,
    line.second_judge_model,
    line.second_judge_parse_success,
    line.stratum
{{ quant_safety.loaded_lines('second_judge') }}
