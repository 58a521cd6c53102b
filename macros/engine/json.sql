{#- Engine-specific JSON handling. Everything that differs between DuckDB and
    Spark lives here, called through adapter.dispatch; models only call these. -#}

{#- Parse a JSON text column once into a struct whose leaf fields are kept as
    raw JSON fragments (so types can be checked strictly afterwards).
    spec: dict field -> 'JSON' or a nested dict. -#}
{% macro json_struct(column, spec) -%}
  {{ return(adapter.dispatch('json_struct', 'quant_safety')(column, spec)) }}
{%- endmacro %}

{% macro default__json_struct(column, spec) -%}
  from_json({{ column }}, '{{ quant_safety.spark_struct_ddl(spec) }}')
{%- endmacro %}

{% macro duckdb__json_struct(column, spec) -%}
  from_json({{ column }}, '{{ tojson(spec) }}')
{%- endmacro %}

{% macro spark_struct_ddl(spec) -%}
  struct<{%- for name, kind in spec.items() -%}
    `{{ name }}`:{% if kind is mapping %}{{ quant_safety.spark_struct_ddl(kind) }}{% else %}string{% endif %}{{ "," if not loop.last }}
  {%- endfor -%}>
{%- endmacro %}

{#- True when the text is syntactically valid JSON. -#}
{% macro json_is_valid(column) -%}
  {{ return(adapter.dispatch('json_is_valid', 'quant_safety')(column)) }}
{%- endmacro %}

{% macro default__json_is_valid(column) -%}
  (try_parse_json({{ column }}) is not null)
{%- endmacro %}

{% macro duckdb__json_is_valid(column) -%}
  coalesce(json_valid({{ column }}), false)
{%- endmacro %}

{#- The JSON kind of a fragment: object, array, string, number, boolean, null
    (SQL NULL when the field is absent). -#}
{% macro json_kind(fragment) -%}
  {{ return(adapter.dispatch('json_kind', 'quant_safety')(fragment)) }}
{%- endmacro %}

{% macro duckdb__json_kind(fragment) -%}
  case json_type({{ fragment }})
    when 'OBJECT' then 'object'
    when 'ARRAY' then 'array'
    when 'VARCHAR' then 'string'
    when 'BOOLEAN' then 'boolean'
    when 'NULL' then 'null'
    when 'DOUBLE' then 'number'
    when 'UBIGINT' then 'number'
    when 'BIGINT' then 'number'
    when 'UINTEGER' then 'number'
    when 'INTEGER' then 'number'
    when 'HUGEINT' then 'number'
    else lower(json_type({{ fragment }}))
  end
{%- endmacro %}

{#- The text of a scalar JSON fragment (strings unquoted). -#}
{% macro json_text(fragment) -%}
  {{ return(adapter.dispatch('json_text', 'quant_safety')(fragment)) }}
{%- endmacro %}

{% macro duckdb__json_text(fragment) -%}
  ({{ fragment }} ->> '$')
{%- endmacro %}

{#- The fragment at a path inside a JSON fragment (e.g. '$.score'). -#}
{% macro json_child(fragment, path) -%}
  {{ return(adapter.dispatch('json_child', 'quant_safety')(fragment, path)) }}
{%- endmacro %}

{% macro duckdb__json_child(fragment, path) -%}
  json_extract({{ fragment }}, '{{ path }}')
{%- endmacro %}

{#- Upstream writes float NaN / Infinity as bare tokens (json.dumps default),
    which is not JSON. Turn bare tokens in value position into null. -#}
{% macro nonfinite_to_null(column) -%}
  {{ return(adapter.dispatch('nonfinite_to_null', 'quant_safety')(column)) }}
{%- endmacro %}

{% macro default__nonfinite_to_null(column) -%}
  regexp_replace({{ column }}, '([:\\[,]\\s*)-?(NaN|Infinity)(\\s*[,}\\]])', '$1null$3')
{%- endmacro %}

{% macro duckdb__nonfinite_to_null(column) -%}
  regexp_replace({{ column }}, '([:\[,]\s*)-?(NaN|Infinity)(\s*[,}\]])', '\1null\3', 'g')
{%- endmacro %}

{% macro has_nonfinite_token(column) -%}
  {{ return(adapter.dispatch('has_nonfinite_token', 'quant_safety')(column)) }}
{%- endmacro %}

{% macro default__has_nonfinite_token(column) -%}
  coalesce({{ column }} rlike '[:\\[,]\\s*-?(NaN|Infinity)\\s*[,}\\]]', false)
{%- endmacro %}

{% macro duckdb__has_nonfinite_token(column) -%}
  coalesce(regexp_matches({{ column }}, '[:\[,]\s*-?(NaN|Infinity)\s*[,}\]]'), false)
{%- endmacro %}

{#- 64-bit float on every engine (dbt.type_float() is 32-bit REAL on DuckDB). -#}
{% macro type_double() -%}
  {{ return(adapter.dispatch('type_double', 'quant_safety')()) }}
{%- endmacro %}

{% macro default__type_double() -%}double{%- endmacro %}
