{#- Final load status of every raw line of kind text (see macro audit_lines). -#}
{{ config(materialized = 'table') }}

{{ quant_safety.audit_lines(ref('base_text__lines')) }}
