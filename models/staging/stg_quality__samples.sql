{#- Loaded quality samples (kind A): one row per loaded raw line. -#}
select
    source_label,
    source_line,
    release_wave,
    raw_model_name,
    base_model,
    quant,
    task_name,
    task_type,
    task_role,
    sample_id,
    bertscore,
    rouge_l,
    coherence,
    exact_match,
    num_tokens_generated,
    had_nonfinite_token
from {{ ref('audit_quality__lines') }}
where load_status = 'loaded'
