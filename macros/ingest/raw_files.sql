{#- Which manifest files of one record kind must be (re-)read by an incremental
    parse model: every manifest entry whose (label, sha256) is not already in
    the model. A file already ingested with the same hash is never read again. -#}
{% macro source_files_to_load(record_kind) %}
  {%- if not execute -%}{{ return([]) }}{%- endif -%}
  {%- set manifest = ref('source_manifest') -%}
  {%- set query -%}
    select source_label, relative_path, coalesce(sha256, '') as sha256
    from {{ manifest }}
    where record_kind = '{{ record_kind }}'
    {%- if is_incremental() %}
      and source_label || ':' || coalesce(sha256, '') not in (
        select distinct source_label || ':' || file_sha256 from {{ this }}
      )
    {%- endif %}
    order by source_label
  {%- endset -%}
  {%- set rows = run_query(query).rows -%}
  {%- set files = [] -%}
  {%- for row in rows -%}
    {%- do files.append({'label': row[0], 'path': row[1], 'sha256': row[2]}) -%}
  {%- endfor -%}
  {{ return(files) }}
{% endmacro %}

{#- Raw lines of the given files: source_label, file_sha256, source_line, raw_line.
    With no file to read, an empty relation of the same shape. -#}
{% macro union_raw_lines(files) -%}
  {%- set raw_dir = var('raw_dir') | replace("'", "''") -%}
  {%- if files | length == 0 -%}
    select
      cast(null as {{ dbt.type_string() }}) as source_label,
      cast(null as {{ dbt.type_string() }}) as file_sha256,
      cast(null as {{ dbt.type_bigint() }}) as source_line,
      cast(null as {{ dbt.type_string() }}) as raw_line
    where 1 = 0
  {%- else -%}
    {%- for f in files %}
    select
      '{{ f.label }}' as source_label,
      '{{ f.sha256 }}' as file_sha256,
      cast(lines.source_line as {{ dbt.type_bigint() }}) as source_line,
      lines.raw_line
    from ({{ quant_safety.read_raw_lines(raw_dir ~ '/' ~ f.path) }}) as lines
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
  {%- endif -%}
{%- endmacro %}

{#- Keep a raw line only where it is needed (quarantined lines), truncated. -#}
{% macro raw_line_preview(reason_column, line_column) -%}
  case when {{ reason_column }} is not null
    then {{ dbt.safe_cast('substr(' ~ line_column ~ ', 1, ' ~ var('quarantine_preview_chars') ~ ')', dbt.type_string()) }}
  end
{%- endmacro %}

{#- Strict typed extraction of a JSON fragment. -#}
{% macro json_string(fragment) -%}
  case when {{ quant_safety.json_kind(fragment) }} = 'string' then {{ quant_safety.json_text(fragment) }} end
{%- endmacro %}

{% macro json_number(fragment) -%}
  case when {{ quant_safety.json_kind(fragment) }} = 'number'
    then cast({{ quant_safety.json_text(fragment) }} as {{ quant_safety.type_double() }}) end
{%- endmacro %}

{% macro json_boolean(fragment) -%}
  case when {{ quant_safety.json_kind(fragment) }} = 'boolean'
    then {{ quant_safety.json_text(fragment) }} = 'true' end
{%- endmacro %}

{#- A quality metric may be written as {"score": x} or as a bare number. -#}
{% macro metric_fragment(fragment) -%}
  case when {{ quant_safety.json_kind(fragment) }} = 'object'
    then {{ quant_safety.json_child(fragment, '$.score') }} else {{ fragment }} end
{%- endmacro %}

{#- Reason a required string field fails the contract, or null. -#}
{% macro require_string(fragment, name) -%}
  case
    when {{ quant_safety.json_kind(fragment) }} is null or {{ quant_safety.json_kind(fragment) }} = 'null'
      then 'missing_field: {{ name }}'
    when {{ quant_safety.json_kind(fragment) }} <> 'string'
      then 'wrong_type: {{ name }} is ' || {{ quant_safety.json_kind(fragment) }}
    when trim({{ quant_safety.json_text(fragment) }}) = '' then 'missing_field: {{ name }} is empty'
  end
{%- endmacro %}

{#- The shared prelude of the four *__parsed models, as CTEs:
      raw_lines - every line of the manifest files of this kind not yet ingested;
      cleaned   - bare NaN/Infinity tokens turned into null (and flagged);
      parsed    - is_valid_json, the JSON kind of the line (line_kind), and the
                  record parsed once into `rec` (a struct of raw fragments, see
                  json_struct); engine-specific (validate_and_parse_json).
    Use as: with {{ parse_json_lines('B', spec) }}, typed as (...). -#}
{% macro parse_json_lines(record_kind, spec) -%}
raw_lines as (
    {{ quant_safety.union_raw_lines(quant_safety.source_files_to_load(record_kind)) }}
),

cleaned as (
    select
        source_label,
        file_sha256,
        source_line,
        raw_line,
        {{ quant_safety.has_nonfinite_token('raw_line') }} as had_nonfinite_token,
        {{ quant_safety.nonfinite_to_null('raw_line') }} as clean_line
    from raw_lines
),

{{ quant_safety.validate_and_parse_json('cleaned', 'clean_line', spec) }}
{%- endmacro %}
