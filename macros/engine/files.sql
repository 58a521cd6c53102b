{#- Reading raw files. One read per file keeps the line numbering exact:
    row_number() over () follows the file order in a single-file scan. -#}
{% macro read_raw_lines(path) -%}
  {{ return(adapter.dispatch('read_raw_lines', 'quant_safety')(path)) }}
{%- endmacro %}

{% macro duckdb__read_raw_lines(path) -%}
  select
    row_number() over () as source_line,
    line as raw_line
  from read_csv(
    '{{ path }}',
    columns = {'line': 'VARCHAR'},
    header = false,
    delim = chr(1),
    quote = '',
    escape = '',
    auto_detect = false,
    strict_mode = false,
    max_line_size = 33554432
  )
{%- endmacro %}

{#- Read a small CSV file written by the build (e.g. the source audit). -#}
{% macro read_csv_file(path, columns) -%}
  {{ return(adapter.dispatch('read_csv_file', 'quant_safety')(path, columns)) }}
{%- endmacro %}

{% macro duckdb__read_csv_file(path, columns) -%}
  read_csv('{{ path }}', header = true, auto_detect = false, columns = {{ tojson(columns) | replace('"', "'") }})
{%- endmacro %}
