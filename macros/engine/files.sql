{#- Reading raw files: the lines of the audited files, as (source_label,
    file_sha256, source_line, raw_text, line_bytes), raw_text with its \r and
    BOM still in it, line_bytes its length in bytes without the \n. Lines are
    the \n-separated lines of the bytes (Python's bytes.split(b"\n"); a last
    line without \n counts, nothing after a final \n): a stray \r, \x01 or
    NUL inside a line neither splits it nor shifts a line number. -#}
{% macro read_source_lines(files) -%}
  {{ return(adapter.dispatch('read_source_lines', 'quant_safety')(files)) }}
{%- endmacro %}

{#- DuckDB: one read per load chunk (manifest.audit_file), through
    qsafety_read_chunk (dbt_plugin.py), which returns the chunk's bytes only if
    their sha256 is the audited one. A chunk of whole lines is split on \n in
    SQL and numbered from its first line; a line over raw_line_max_bytes is its
    own chunk and only its first bytes (the preview) are returned. One union
    branch per chunk keeps one chunk in memory per thread: a chunk is at most
    ~64 MB + raw_line_max_bytes whatever the file's size. The path, label and
    hashes reach SQL through sql_string. -#}
{% macro duckdb__read_source_lines(files) -%}
  {%- set keep = 4 * (quant_safety.sql_number(var('quarantine_preview_chars'), 'quarantine_preview_chars') | int) + 3 -%}
  {%- set branches = [] -%}
  {%- for f in files -%}
    {%- for c in f.chunks -%}
      {%- set read -%}
        qsafety_read_chunk({{ quant_safety.sql_string(c.path) }}, {{ c.byte_offset }}, {{ c.byte_length }},
          {{ quant_safety.sql_string(c.sha256) }}, {{ c.byte_length if c.kind == 'lines' else keep }})
      {%- endset -%}
      {%- if c.kind == 'lines' -%}
        {%- set branch %}
    select
      {{ quant_safety.sql_string(f.label) }} as source_label,
      {{ quant_safety.sql_string(f.file_sha256) }} as file_sha256,
      cast({{ c.first_line - 1 }} + line_index as bigint) as source_line,
      line_text as raw_text,
      cast(strlen(line_text) as bigint) as line_bytes
    from (
      select unnest(lines) as line_text, generate_subscripts(lines, 1) as line_index, len(lines) as line_total
      from (select string_split(decode({{ read }}), chr(10)) as lines) as chunk_bytes
    ) as chunk_lines
    where line_index < line_total or line_text <> ''
        {%- endset -%}
      {%- else -%}
        {%- set branch %}
    select
      {{ quant_safety.sql_string(f.label) }} as source_label,
      {{ quant_safety.sql_string(f.file_sha256) }} as file_sha256,
      cast({{ c.first_line }} as bigint) as source_line,
      decode({{ read }}) as raw_text,
      cast({{ c.line_bytes }} as bigint) as line_bytes
        {%- endset -%}
      {%- endif -%}
      {%- do branches.append(branch) -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ branches | join('\n    union all') }}
{%- endmacro %}

{#- Spark: each file read whole (binaryFile, up to Spark's 2 GiB per value; the
    pre-flight refuses a larger file on this target) and split on \n; the
    sha256 of the bytes read is checked against the audited one
    (assert_true fails the query naming the file otherwise). -#}
{% macro spark__read_source_lines(files) -%}
  {%- for f in files %}
    select
      {{ quant_safety.sql_string(f.label) }} as source_label,
      {{ quant_safety.sql_string(f.file_sha256) }} as file_sha256,
      cast(line_index + 1 as bigint) as source_line,
      line_text as raw_text,
      cast(octet_length(line_text) as bigint) as line_bytes
    from (
      select lines, line_index, line_text
      from (
        select split(decode(content, 'UTF-8'), chr(10), -1) as lines
        from binaryFile.{{ quant_safety.spark_file_identifier(f.path) }}
        where assert_true(sha2(content, 256) = {{ quant_safety.sql_string(f.file_sha256) }},
          {{ quant_safety.sql_string('qsafety-input-error: ' ~ f.path ~ ': changed while the build ran (its bytes no longer have the audited sha256; nothing of it was loaded): rerun the build once the file is complete') }}) is null
      ) as file_blob
      lateral view posexplode(lines) exploded as line_index, line_text
    ) as file_lines
    where line_index < size(lines) - 1 or line_text <> ''
    {{ 'union all' if not loop.last }}
  {%- endfor %}
{%- endmacro %}

{#- A UTF-8 byte order mark at the start of a text removed. -#}
{% macro strip_bom(text) -%}
  {{ return(adapter.dispatch('strip_bom', 'quant_safety')(text)) }}
{%- endmacro %}

{% macro default__strip_bom(text) -%}
  case when left({{ text }}, 1) = chr(65279) then substr({{ text }}, 2) else {{ text }} end
{%- endmacro %}

{% macro spark__strip_bom(text) -%}
  case when left({{ text }}, 1) = decode(unhex('EFBBBF'), 'UTF-8') then substr({{ text }}, 2) else {{ text }} end
{%- endmacro %}

{#- Spark: a local file path as the identifier of a file-source query
    (binaryFile.`path`): Hadoop reads the path as a glob, so its glob
    characters are escaped with a backslash, then the identifier is quoted. -#}
{% macro spark_file_identifier(path) -%}
  {%- set ns = namespace(text='') -%}
  {%- for ch in path | string -%}
    {%- set ns.text = ns.text ~ ('\\' ~ ch if ch in '\\*?[]{}' else ch) -%}
  {%- endfor -%}
  {{ return(quant_safety.sql_identifier(ns.text)) }}
{%- endmacro %}

{#- Read a small CSV file written by the build (e.g. the source audit). -#}
{% macro read_csv_file(path, columns) -%}
  {{ return(adapter.dispatch('read_csv_file', 'quant_safety')(path, columns)) }}
{%- endmacro %}

{% macro duckdb__read_csv_file(path, columns) -%}
  read_csv({{ quant_safety.sql_string(path) }}, header = true, auto_detect = false, quote = '"', escape = '"',
    columns = {{ quant_safety.csv_columns(columns) }})
{%- endmacro %}

{#- Spark: the csv source takes no options in SQL (no header, and it reads a
    doubled quote "" inside a quoted field as two characters), so each line is
    read as text and parsed with from_csv (quote and escape "), the header row
    dropped, and every column cast. A file written by the build: one record per
    line (no field holds a newline: validate.py refuses control characters). -#}
{% macro spark__read_csv_file(path, columns) -%}
  {%- set types = {'VARCHAR': 'string', 'BOOLEAN': 'boolean', 'BIGINT': 'bigint', 'INTEGER': 'int', 'DOUBLE': 'double'} -%}
  (
    select
      {%- for name, kind in columns.items() %}
      cast(csv_record._c{{ loop.index0 }} as {{ types.get(kind | upper, kind) }}) as {{ name }}{{ "," if not loop.last }}
      {%- endfor %}
    from (
      select from_csv(value, '{% for name in columns %}_c{{ loop.index0 }} string{{ ", " if not loop.last }}{% endfor %}',
                      map('quote', '"', 'escape', '"')) as csv_record
      from text.{{ quant_safety.spark_file_identifier(path) }}
    ) as csv_lines
    where not (csv_record._c0 <=> {{ quant_safety.sql_string((columns.keys() | list)[0]) }})
  ) as csv_file
{%- endmacro %}

{#- A column spec of read_csv: {'name': 'TYPE', ...} as a DuckDB struct literal. -#}
{% macro csv_columns(columns) -%}
  {%- set parts = [] -%}
  {%- for name, kind in columns.items() -%}
    {%- do parts.append(quant_safety.sql_string(name) ~ ': ' ~ quant_safety.sql_string(kind)) -%}
  {%- endfor -%}
  {{ return('{' ~ parts | join(', ') ~ '}') }}
{%- endmacro %}
