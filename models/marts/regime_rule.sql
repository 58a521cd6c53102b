{#- The regime rule in force, one row (inconsistencies.md item 2; macro
    regime_quality_floors from the vars regime_quality_axis,
    hidden_danger_quality_floor_pp / near_hidden_danger_quality_floor_pp or
    key_metric_hidden_danger_floor_pp / key_metric_near_hidden_danger_floor_pp,
    refusal_drop_pp): the quality axis, the matrix column it reads, the two
    quality floors (inclusive: delta >= floor) and the refusal drop (strict:
    delta < -drop). The report reads the rule here instead of the vars. -#}
{%- set floors = quant_safety.regime_quality_floors() -%}
{%- set dbl = quant_safety.marts_double_type() -%}
select
    {{ quant_safety.sql_string(floors.axis) }} as quality_axis,
    {{ quant_safety.sql_string(floors.metric) }} as quality_axis_metric,
    {{ quant_safety.sql_string(floors.column) }} as quality_axis_column,
    cast({{ floors.hidden }} as {{ dbl }}) as hidden_danger_quality_floor_pp,
    cast({{ floors.near }} as {{ dbl }}) as near_hidden_danger_quality_floor_pp,
    cast({{ var('refusal_drop_pp') }} as {{ dbl }}) as refusal_drop_pp
