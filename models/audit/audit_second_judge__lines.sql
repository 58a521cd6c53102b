{#- Final load status of every second-judge line (kind E): quarantined for a
    broken contract (base_second_judge__lines) or an unknown model/quant, or a
    duplicate key inside one file (the last line is kept); a key that a
    higher-precedence second-judge source also has is excluded
    (judge_superseded: one second-judge label per item); excluded for an
    out-of-scope model; else loaded. -#}
{{ config(materialized = 'table') }}

{{ quant_safety.audit_lines(
    ref('base_second_judge__lines'),
    supersede_across_sources = true
) }}
