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

{#- Spark: a struct of VARIANT leaves read from the line parsed once with
    try_parse_json. Like DuckDB's from_json, a leaf is SQL NULL when the field
    is absent, null, or under a non-object (variant_get alone would give a
    variant null for a JSON null; json_child keeps it, like json_extract). A nested spec is a struct of its leaves: address its leaves
    (rec.detail.refusal_type). A node whose own kind matters is a 'JSON' leaf
    read further with json_fragment_struct (contract spec `nested`: metrics),
    so the line is not parsed again for it. -#}
{#- The line is parsed once: the VARIANT is bound to a lambda variable
    (transform over a one-element array), and every leaf reads that variable.
    Written as spark_variant_struct('try_parse_json(line)', ...) the parse is
    repeated twice per leaf: Spark does not eliminate common subexpressions
    inside a CASE branch (the struct is built only for valid lines), which
    made the parse models ~2x slower. -#}
{% macro spark__json_struct(column, spec) -%}
  transform(array(try_parse_json({{ column }})), json_doc ->
    {{ quant_safety.spark_variant_struct('json_doc', spec, '$') }})[0]
{%- endmacro %}

{% macro spark_variant_struct(variant, spec, path) -%}
  named_struct(
  {%- for name, kind in spec.items() %}
    {%- set child = path ~ '.' ~ name %}
    '{{ name }}',
    {%- if kind is mapping %}
    {{ quant_safety.spark_variant_struct(variant, kind, child) }}
    {%- else %}
    case when not is_variant_null(variant_get({{ variant }}, '{{ child }}'))
      then variant_get({{ variant }}, '{{ child }}') end
    {%- endif %}{{ "," if not loop.last }}
  {%- endfor %}
  )
{%- endmacro %}

{#- A fragment of the parsed line (a json_struct leaf holding an object) read
    as a struct of its own fields, like json_struct: the line is not parsed
    again. DuckDB: the fragment is DuckDB-serialized JSON text (small);
    Spark: the fragment is a VARIANT of the one parse. -#}
{% macro json_fragment_struct(fragment, spec) -%}
  {{ return(adapter.dispatch('json_fragment_struct', 'quant_safety')(fragment, spec)) }}
{%- endmacro %}

{% macro default__json_fragment_struct(fragment, spec) -%}
  {{ quant_safety.json_struct(fragment, spec) }}
{%- endmacro %}

{% macro spark__json_fragment_struct(fragment, spec) -%}
  {{ quant_safety.spark_variant_struct(fragment, spec, '$') }}
{%- endmacro %}

{% macro spark_struct_ddl(spec) -%}
  struct<{%- for name, kind in spec.items() -%}
    `{{ name }}`:{% if kind is mapping %}{{ quant_safety.spark_struct_ddl(kind) }}{% else %}string{% endif %}{{ "," if not loop.last }}
  {%- endfor -%}>
{%- endmacro %}

{#- CTEs `validated` and `parsed` over `relation`: every column of it plus
    is_valid_json, line_kind (JSON kind of the whole line) and rec (the line
    parsed once into a struct of raw fragments, see json_struct; null unless
    valid). Each full parse of a line is the main cost of staging. -#}
{% macro validate_and_parse_json(relation, column, spec, output='parsed') -%}
  {{ return(adapter.dispatch('validate_and_parse_json', 'quant_safety')(relation, column, spec, output)) }}
{%- endmacro %}

{% macro default__validate_and_parse_json(relation, column, spec, output='parsed') -%}
validated as (
    select *, {{ quant_safety.json_is_valid(column) }} as is_valid_json
    from {{ relation }}
),

{{ output }} as (
    select
        *,
        case when is_valid_json
            then {{ quant_safety.json_kind(quant_safety.json_parse(column)) }} end as line_kind,
        case when is_valid_json
            then {{ quant_safety.json_struct(column, spec) }} end as rec
    from validated
)
{%- endmacro %}

{#- DuckDB: one full parse for a valid line. try(from_json(...)) is null exactly
    when the line is invalid JSON or the JSON value null; json_valid (a second
    parse) runs only for those lines. -#}
{% macro duckdb__validate_and_parse_json(relation, column, spec, output='parsed') -%}
validated as (
    select *, try({{ quant_safety.json_struct(column, spec) }}) as parsed_or_null
    from {{ relation }}
),

{{ output }} as (
    select
        * exclude (parsed_or_null),
        case when parsed_or_null is not null then true
            else coalesce(json_valid({{ column }}), false) end as is_valid_json,
        case when parsed_or_null is not null or json_valid({{ column }})
            then {{ quant_safety.json_kind(quant_safety.json_parse(column)) }} end as line_kind,
        parsed_or_null as rec
    from validated
)
{%- endmacro %}

{#- True when the text is syntactically valid JSON. -#}
{% macro json_is_valid(column) -%}
  {{ return(adapter.dispatch('json_is_valid', 'quant_safety')(column)) }}
{%- endmacro %}

{% macro default__json_is_valid(column) -%}
  (try_parse_json({{ column }}) is not null)
{%- endmacro %}

{#- Spark's JSON parser stops after the first value ('{"a": 1} x' parses),
    DuckDB's does not: an object line must also end with '}'. Duplicate keys
    need spark.sql.variant.allowDuplicateKeys=true (profiles.yml) to be valid,
    as on DuckDB. -#}
{% macro spark__json_is_valid(column) -%}
  (try_parse_json({{ column }}) is not null
    and (left(ltrim({{ column }}), 1) <> '{' or right(rtrim({{ column }}), 1) = '}'))
{%- endmacro %}

{% macro duckdb__json_is_valid(column) -%}
  coalesce(json_valid({{ column }}), false)
{%- endmacro %}

{#- A JSON text column as a fragment that json_kind / json_child accept:
    DuckDB reads JSON text as it is, Spark parses it to a VARIANT. -#}
{% macro json_parse(column) -%}
  {{ return(adapter.dispatch('json_parse', 'quant_safety')(column)) }}
{%- endmacro %}

{% macro default__json_parse(column) -%}
  {{ column }}
{%- endmacro %}

{#- DuckDB reads JSON text as it is; leading whitespace is trimmed so that
    json_kind can read the kind from the first character. -#}
{% macro duckdb__json_parse(column) -%}
  ltrim({{ column }}, chr(32) || chr(9) || chr(10) || chr(13))
{%- endmacro %}

{% macro spark__json_parse(column) -%}
  try_parse_json({{ column }})
{%- endmacro %}

{#- The JSON kind of a fragment: object, array, string, number, boolean, null
    (SQL NULL when the field is absent). -#}
{% macro json_kind(fragment) -%}
  {{ return(adapter.dispatch('json_kind', 'quant_safety')(fragment)) }}
{%- endmacro %}

{#- DuckDB: every fragment handed to json_kind is serialized JSON text written
    by DuckDB itself (a from_json "JSON" leaf, json_extract, or a line passed
    through json_parse, which trims leading whitespace), so its first character
    decides its kind: no re-parse (json_type parsed each fragment again, ~35
    parses per line; this is most of the staging time). SQL NULL stays NULL
    (absent field; a from_json leaf that is JSON null is NULL too). -#}
{% macro duckdb__json_kind(fragment) -%}
  case left({{ fragment }}, 1)
    when '{' then 'object'
    when '[' then 'array'
    when '"' then 'string'
    when 't' then 'boolean'
    when 'f' then 'boolean'
    when 'n' then 'null'
    when '-' then 'number'
    when '0' then 'number' when '1' then 'number' when '2' then 'number' when '3' then 'number'
    when '4' then 'number' when '5' then 'number' when '6' then 'number' when '7' then 'number'
    when '8' then 'number' when '9' then 'number'
  end
{%- endmacro %}

{#- Spark: a fragment is a VARIANT (a json_struct leaf, json_child,
    json_parse of a text). The argument appears once: models nest these
    macros (metric_fragment, json_number, require_string), and Spark inlines
    the nested expressions, so a fragment repeated in its macro multiplies
    (a `case x when` repeats x per branch; a map lookup does not). -#}
{% macro spark__json_kind(fragment) -%}
  map('OBJECT', 'object', 'ARRAY', 'array', 'STRING', 'string', 'BOOLEAN', 'boolean', 'VOID', 'null',
      'BIGINT', 'number', 'DECIMAL', 'number', 'DOUBLE', 'number', 'FLOAT', 'number',
      'INT', 'number', 'SMALLINT', 'number', 'TINYINT', 'number')[
    regexp_extract(schema_of_variant({{ fragment }}), '^[A-Z]+', 0)]
{%- endmacro %}

{#- The text of a scalar JSON fragment (strings unquoted). -#}
{% macro json_text(fragment) -%}
  {{ return(adapter.dispatch('json_text', 'quant_safety')(fragment)) }}
{%- endmacro %}

{#- Spark: casting a variant to string unquotes a string and prints a number. -#}
{% macro spark__json_text(fragment) -%}
  cast({{ fragment }} as string)
{%- endmacro %}

{#- DuckDB: a scalar fragment is DuckDB-serialized JSON: a number or boolean is
    its own text; a string without escapes is its text between the quotes; only
    a string with a backslash escape is parsed to unescape it. -#}
{% macro duckdb__json_text(fragment) -%}
  (case
    when left({{ fragment }}, 1) <> '"' then cast({{ fragment }} as varchar)
    when contains({{ fragment }}, '\') then ({{ fragment }} ->> '$')
    else substr({{ fragment }}, 2, length({{ fragment }}) - 2)
  end)
{%- endmacro %}

{#- The fragment at a path inside a JSON fragment (e.g. '$.score'). -#}
{% macro json_child(fragment, path) -%}
  {{ return(adapter.dispatch('json_child', 'quant_safety')(fragment, path)) }}
{%- endmacro %}

{% macro spark__json_child(fragment, path) -%}
  variant_get({{ fragment }}, '{{ path }}')
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

{#- DuckDB: the regex only runs on lines that contain a NaN/Infinity token at all
    (a plain substring test first: ~25-45% less staging parse time at x10, where
    almost no line has one). Same result as the bare regexp_replace. -#}
{% macro duckdb__nonfinite_to_null(column) -%}
  case when contains({{ column }}, 'NaN') or contains({{ column }}, 'Infinity')
    then regexp_replace({{ column }}, '([:\[,]\s*)-?(NaN|Infinity)(\s*[,}\]])', '\1null\3', 'g')
    else {{ column }} end
{%- endmacro %}

{% macro has_nonfinite_token(column) -%}
  {{ return(adapter.dispatch('has_nonfinite_token', 'quant_safety')(column)) }}
{%- endmacro %}

{% macro default__has_nonfinite_token(column) -%}
  coalesce({{ column }} rlike '[:\\[,]\\s*-?(NaN|Infinity)\\s*[,}\\]]', false)
{%- endmacro %}

{% macro duckdb__has_nonfinite_token(column) -%}
  coalesce((contains({{ column }}, 'NaN') or contains({{ column }}, 'Infinity'))
    and regexp_matches({{ column }}, '[:\[,]\s*-?(NaN|Infinity)\s*[,}\]]'), false)
{%- endmacro %}

{#- 64-bit float on every engine (dbt.type_float() is 32-bit REAL on DuckDB). -#}
{% macro type_double() -%}
  {{ return(adapter.dispatch('type_double', 'quant_safety')()) }}
{%- endmacro %}

{% macro default__type_double() -%}double{%- endmacro %}

{#- The keys of the objects at `paths` (JSON paths) of a JSON object text, as
    a list of lists (an empty or null list where the path holds no object), in
    one more parse of the text. Duplicates are kept: that is what they are for. -#}
{% macro json_object_keys_at(column, paths) -%}
  {{ return(adapter.dispatch('json_object_keys_at', 'quant_safety')(column, paths)) }}
{%- endmacro %}

{% macro duckdb__json_object_keys_at(column, paths) -%}
  json_keys({{ column }}, [{% for path in paths %}{{ quant_safety.sql_string(path) }}{{ ', ' if not loop.last }}{% endfor %}])
{%- endmacro %}

{% macro spark__json_object_keys_at(column, paths) -%}
  array(
    {%- for path in paths %}
    {{ ('json_object_keys(' ~ column ~ ')') if path == '$'
       else ('json_object_keys(get_json_object(' ~ column ~ ', ' ~ quant_safety.sql_string(path) ~ '))') }}{{ ',' if not loop.last }}
    {%- endfor %}
  )
{%- endmacro %}

{#- 'ambiguous_duplicate_key: <path.key>' when a key repeats in one of the
    objects (object_keys from json_object_keys_at over `paths`), else null.
    Only an object with two keys or more is looked at for a repeat. -#}
{% macro duplicate_key_problem(object_keys, paths) -%}
  {{ return(adapter.dispatch('duplicate_key_problem', 'quant_safety')(object_keys, paths)) }}
{%- endmacro %}

{% macro duckdb__duplicate_key_problem(object_keys, paths) -%}
  case
    {%- for path in paths %}
      {%- set keys = object_keys ~ '[' ~ loop.index ~ ']' %}
    when len({{ keys }}) > 1 and len({{ keys }}) <> list_unique({{ keys }})
      then {{ quant_safety.sql_string('ambiguous_duplicate_key: ' ~ ((path[2:] ~ '.') if path != '$' else '')) }}
        || list_filter({{ keys }}, lambda key, position: list_position({{ keys }}, key) < position)[1]
    {%- endfor %}
  end
{%- endmacro %}

{% macro spark__duplicate_key_problem(object_keys, paths) -%}
  case
    {%- for path in paths %}
      {%- set keys = object_keys ~ '[' ~ loop.index0 ~ ']' %}
    when size({{ keys }}) > 1 and size({{ keys }}) <> size(array_distinct({{ keys }}))
      then {{ quant_safety.sql_string('ambiguous_duplicate_key: ' ~ ((path[2:] ~ '.') if path != '$' else '')) }}
        || element_at(filter({{ keys }}, (key, position) -> array_position({{ keys }}, key) - 1 < position), 1)
    {%- endfor %}
  end
{%- endmacro %}
