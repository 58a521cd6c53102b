{#- Loaded safety-run generations (kind D): the response text behind each
    scored safety sample, joined on (base_model, quant, task_name, sample_id). -#}
select
    source_label,
    source_line,
    release_wave,
    raw_model_name,
    base_model,
    quant,
    task_name,
    task_role,
    sample_id,
    candidate_text,
    num_tokens_generated
from {{ ref('audit_text__lines') }}
where load_status = 'loaded'
