{#- Final load status of every judge line. The legacy BBQ variant rows (contract
    §4) are excluded by rule legacy_bbq_schema: they were judged without the
    context and choices. In `precedence` mode a higher-precedence judge source
    supersedes a lower one on the same (base_model, quant, task, sample) key
    (judge_superseded); in `pool` mode every source is kept. -#}
{{ config(materialized = 'table') }}

{%- set mode = var('judge_dedupe_mode') -%}
{%- if mode not in ['precedence', 'pool'] -%}
  {{ exceptions.raise_compiler_error("var judge_dedupe_mode must be 'precedence' or 'pool', got '" ~ mode ~ "'") }}
{%- endif -%}

{{ quant_safety.audit_lines(
    ref('base_judge__lines'),
    extra_rule_condition = 'current_lines.is_legacy_bbq_shape',
    extra_rule_reason = 'legacy_bbq_schema',
    supersede_across_sources = (mode == 'precedence'),
    per_source_keys = (mode == 'pool')
) }}
