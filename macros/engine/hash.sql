{#- A 64-bit hash of several columns, used only as a pre-filter (rows whose
    hashes differ have different values; equal hashes are checked on the real
    columns afterwards), so collisions cost time, never correctness. -#}
{% macro columns_hash(columns) -%}
  {{ return(adapter.dispatch('columns_hash', 'quant_safety')(columns)) }}
{%- endmacro %}

{% macro default__columns_hash(columns) -%}
  {%- set parts = [] -%}
  {%- for c in columns -%}
    {%- do parts.append("coalesce(cast(" ~ c ~ " as " ~ dbt.type_string() ~ "), '')") -%}
    {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
  {%- endfor -%}
  {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{% macro duckdb__columns_hash(columns) -%}
  hash({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__columns_hash(columns) -%}
  xxhash64({{ columns | join(', ') }})
{%- endmacro %}
