{#- The raw sources (_raw__sources.yml), one per record kind: kind -> source
    table. A new record kind is one more entry here and one more table there. -#}
{% macro raw_source_tables() -%}
  {{ return({'A': 'quality', 'B': 'safety', 'C': 'judge', 'D': 'safety_text', 'E': 'second_judge'}) }}
{%- endmacro %}

{#- The model name of each record kind: base_<name>__lines parses its lines,
    audit_<name>__lines holds their status. -#}
{% macro record_kind_models() -%}
  {{ return({'A': 'quality', 'B': 'safety', 'C': 'judge', 'D': 'text', 'E': 'second_judge'}) }}
{%- endmacro %}

{#- Spark: where `qsafety build`'s pre-flight audit lives (QSAFETY_AUDIT_DIR,
    the warehouse's build dir; a var cannot point it elsewhere):
    source_audit.csv and source_chunks.csv. On DuckDB the audit models read
    the raw sources instead (audit_source_files). A plain `dbt build` on
    Spark has no pre-flight: it stops here with one line. -#}
{% macro audit_csv(name) -%}
  {%- set audit_dir = env_var('QSAFETY_AUDIT_DIR', '') -%}
  {%- if audit_dir == '' and execute -%}
    {{ exceptions.raise_compiler_error("the Spark target builds through `qsafety build` (its pre-flight writes the source audit); a plain `dbt build` runs on the duckdb target") }}
  {%- endif -%}
  {{ return(audit_dir ~ '/' ~ name) }}
{%- endmacro %}

{% macro audit_chunk_columns() -%}
  {{ return({'source_label': 'VARCHAR', 'chunk_no': 'BIGINT', 'real_path': 'VARCHAR', 'byte_offset': 'BIGINT',
             'byte_length': 'BIGINT', 'first_line': 'BIGINT', 'line_count': 'BIGINT', 'sha256': 'VARCHAR',
             'chunk_kind': 'VARCHAR', 'line_bytes': 'BIGINT'}) }}
{%- endmacro %}

{% macro audit_file_columns() -%}
  {{ return({'source_label': 'VARCHAR', 'relative_path': 'VARCHAR', 'file_exists': 'BOOLEAN',
             'size_bytes': 'BIGINT', 'sha256': 'VARCHAR', 'raw_lines': 'BIGINT'}) }}
{%- endmacro %}

{#- Which manifest files of one record kind an incremental parse model must
    (re-)read, with their load chunks: every file whose (label, audited sha256)
    is not already in the model. The sha256 stored with ingested lines is the
    one every chunk was checked against as it was read (qsafety_read_chunk), so
    a file is skipped only when the bytes ingested before are the bytes on disk
    now. Returns [{label, file_sha256, chunks: [{path, byte_offset, ...}]}]. -#}
{% macro source_files_to_load(record_kind) %}
  {#- the refs first: dbt records a model's dependencies while parsing, where execute is false -#}
  {%- set chunk_relation = ref('audit_source_chunks') -%}
  {%- set audit_relation = ref('audit_source_files') -%}
  {%- set manifest_relation = ref('source_manifest') -%}
  {%- if not execute -%}{{ return([]) }}{%- endif -%}
  {%- set query -%}
    with chunks as (
        select * from {{ chunk_relation }}
    ),
    audit as (
        select * from {{ audit_relation }}
    )
    select chunks.source_label, audit.sha256, chunks.real_path, chunks.byte_offset, chunks.byte_length,
           chunks.first_line, chunks.line_count, chunks.sha256, chunks.chunk_kind, chunks.line_bytes
    from chunks
    inner join audit on audit.source_label = chunks.source_label
    inner join {{ manifest_relation }} as manifest on manifest.source_label = chunks.source_label
    where manifest.record_kind = {{ quant_safety.sql_string(record_kind) }}
    {%- if is_incremental() %}
      and chunks.source_label || ':' || audit.sha256 not in (
        select distinct source_label || ':' || file_sha256 from {{ this }}
      )
    {%- endif %}
    order by chunks.source_label, chunks.chunk_no
  {%- endset -%}
  {%- set files = [] -%}
  {%- for row in run_query(query).rows -%}
    {%- if not files or files[-1].label != row[0] -%}
      {%- do files.append({'label': quant_safety.checked_label(row[0]), 'file_sha256': quant_safety.checked_sha256(row[1]),
                           'path': row[2], 'chunks': []}) -%}
    {%- endif -%}
    {%- do files[-1].chunks.append({'path': row[2], 'byte_offset': row[3] | int, 'byte_length': row[4] | int,
                                    'first_line': row[5] | int, 'line_count': row[6] | int,
                                    'sha256': quant_safety.checked_sha256(row[7]), 'kind': row[8],
                                    'line_bytes': row[9] | int}) -%}
  {%- endfor -%}
  {{ return(files) }}
{% endmacro %}

{#- A label and a hash from the audit, checked again before they are quoted
    (the pre-flight validated them: validate.py). -#}
{% macro checked_label(value) -%}
  {%- if not modules.re.fullmatch('[A-Za-z0-9][A-Za-z0-9_.-]{0,127}', value | string) -%}
    {{ exceptions.raise_compiler_error("source_audit: unsafe source label " ~ (value | string | tojson)) }}
  {%- endif -%}
  {{ return(value | string) }}
{%- endmacro %}

{% macro checked_sha256(value) -%}
  {%- if not modules.re.fullmatch('[0-9a-f]{64}', value | string) -%}
    {{ exceptions.raise_compiler_error("source_audit: not a sha256: " ~ (value | string | tojson)) }}
  {%- endif -%}
  {{ return(value | string) }}
{%- endmacro %}

{#- Raw lines of the given files: source_label, file_sha256, source_line (the
    1-based number of the \n-separated line, whatever the line holds), raw_line
    (one trailing \r of a CRLF line and a UTF-8 BOM at the start of the file
    removed) and line_problem (line_too_long over var raw_line_max_bytes: the
    line is kept as a preview only and never parsed). With no file to read, an
    empty relation of the same shape. -#}
{% macro union_raw_lines(files) -%}
  {%- set limit = quant_safety.sql_number(var('raw_line_max_bytes'), 'raw_line_max_bytes') -%}
  {%- set preview = quant_safety.sql_number(var('quarantine_preview_chars'), 'quarantine_preview_chars') -%}
  {%- if files | length == 0 -%}
    select
      cast(null as {{ dbt.type_string() }}) as source_label,
      cast(null as {{ dbt.type_string() }}) as file_sha256,
      cast(null as {{ dbt.type_bigint() }}) as source_line,
      cast(null as {{ dbt.type_string() }}) as raw_line,
      cast(null as {{ dbt.type_string() }}) as line_problem
    where 1 = 0
  {%- else -%}
    select
      source_label,
      file_sha256,
      source_line,
      case when line_bytes > {{ limit }} then substr(line_text, 1, {{ preview }})
        else {{ quant_safety.strip_line_ending('line_text') }} end as raw_line,
      case when line_bytes > {{ limit }}
        then 'line_too_long: ' || cast(line_bytes as {{ dbt.type_string() }}) || ' bytes (limit {{ limit }})'
      end as line_problem
    from (
      select
        source_label,
        file_sha256,
        source_line,
        line_bytes,
        case when source_line = 1 then {{ quant_safety.strip_bom('raw_text') }} else raw_text end as line_text
      from ({{ quant_safety.read_source_lines(files) }}) as read_lines
    ) as file_lines
  {%- endif -%}
{%- endmacro %}

{#- One trailing carriage return (a CRLF line ending) removed. -#}
{% macro strip_line_ending(text) -%}
  case when right({{ text }}, 1) = chr(13) then substr({{ text }}, 1, length({{ text }}) - 1) else {{ text }} end
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

{#- The shared prelude of the base_<kind>__lines models (contract_lines), as CTEs:
      raw_lines - every line of the manifest files of this kind not yet ingested
                  (read_problem: line_too_long);
      cleaned   - bare NaN/Infinity tokens turned into null (and flagged);
      parsed    - is_valid_json, the JSON kind of the line (line_kind), the
                  record parsed once into `rec` (a struct of raw fragments, see
                  json_struct; engine-specific validate_and_parse_json), and
                  line_problem: line_too_long, or ambiguous_duplicate_key when
                  a key repeats in the record or in an object of it that
                  key_spec reads (default: spec; Python readers take the last
                  value, DuckDB the first: such a line has no single meaning).
                  Every contract ladder starts with line_problem. -#}
{% macro parse_json_lines(record_kind, spec, key_spec=none) -%}
raw_lines as (
    select
        source_label,
        file_sha256,
        source_line,
        raw_line,
        line_problem as read_problem
    from ({{ quant_safety.union_raw_lines(quant_safety.source_files_to_load(record_kind)) }}) as read_lines
),

cleaned as (
    select
        source_label,
        file_sha256,
        source_line,
        raw_line,
        read_problem,
        {{ quant_safety.has_nonfinite_token('raw_line') }} as had_nonfinite_token,
        case when read_problem is null then {{ quant_safety.nonfinite_to_null('raw_line') }} end as clean_line
    from raw_lines
),

{{ quant_safety.validate_and_parse_json('cleaned', 'clean_line', spec, output='json_lines') }},

{%- set object_paths = quant_safety.spec_object_paths(key_spec or spec) %}

keyed as (
    select
        *,
        case when is_valid_json and line_kind = 'object'
            then {{ quant_safety.json_object_keys_at('clean_line', object_paths) }} end as object_keys
    from json_lines
),

parsed as (
    select
        *,
        coalesce(read_problem, {{ quant_safety.duplicate_key_problem('object_keys', object_paths) }}) as line_problem
    from keyed
)
{%- endmacro %}

{#- The JSON paths of a spec that may hold objects: the record, every nested
    node and every leaf under one (a metric's {"score": x}). -#}
{% macro spec_object_paths(spec, path='$') -%}
  {%- set paths = [path] -%}
  {%- for name, kind in spec.items() -%}
    {%- if kind is mapping -%}
      {%- do paths.extend(quant_safety.spec_object_paths(kind, path ~ '.' ~ name)) -%}
    {%- elif path != '$' -%}
      {%- do paths.append(path ~ '.' ~ name) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(paths) }}
{%- endmacro %}
