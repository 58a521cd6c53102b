{#- Loaded second-judge annotations (kind E, report Appendix F): one row per
    (cell, task, sample) with the primary judge's and the second judge's label. -#}
select
    source_label,
    source_line,
    precedence as source_precedence,
    release_wave,
    raw_model_name,
    base_model,
    quant,
    task_name,
    task_role,
    sample_id,
    primary_judge_label,
    primary_judge_model,
    second_judge_label,
    second_judge_model,
    second_judge_parse_success,
    stratum
from {{ ref('audit_second_judge__lines') }}
where load_status = 'loaded'
