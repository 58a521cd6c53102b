{#- Loaded judge annotations (kind C) after schema alignment and the
    judge_dedupe_mode rule. -#}
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
    judge_label,
    judge_model,
    judge_parse_success,
    judge_elapsed_ms
from {{ ref('audit_judge__lines') }}
where load_status = 'loaded'
