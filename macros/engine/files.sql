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

{#- Spark: the text source reads a file as lines (\n, \r\n; a UTF-8 BOM is
    skipped; a last line without newline is kept; no empty line after a final
    newline), possibly split into several blocks read in parallel. The exact
    1-based line number is the number of lines in the blocks before the line's
    block plus the line's position in its block. monotonically_increasing_id
    grows by one per row inside a partition, and a block is read whole and in
    file order by one partition, so the position in the block is
    row_id - (the block's smallest row_id). Only a tiny per-block aggregate
    (start offset, first row_id, line count) is computed and joined back: the
    lines themselves are never shuffled or sorted, and no single-partition
    step touches them, so it scales to files larger than one block. -#}
{% macro spark__read_raw_lines(path) -%}
  {%- set file = 'text.`' ~ (path | replace('`', '``')) ~ '`' -%}
  with block_lines as (
    select
      input_file_block_start() as block_start,
      monotonically_increasing_id() as row_id,
      nullif(value, '') as raw_line   -- an empty line is NULL, as in DuckDB's read_csv
    from {{ file }}
  ),
  blocks as (
    select
      block_start,
      min(row_id) as first_row_id,
      count(*) as block_line_count
    from block_lines
    group by block_start
  ),
  block_offsets as (
    select
      block_start,
      first_row_id,
      coalesce(sum(block_line_count) over (
        order by block_start rows between unbounded preceding and 1 preceding), 0) as lines_before
    from blocks
  )
  select
    block_offsets.lines_before + (block_lines.row_id - block_offsets.first_row_id) + 1 as source_line,
    block_lines.raw_line
  from block_lines
  inner join block_offsets
    on block_offsets.block_start = block_lines.block_start
{%- endmacro %}

{#- Spark: the csv source has no header option in SQL; read every column as
    text, drop the header row, and cast. -#}
{% macro spark__read_csv_file(path, columns) -%}
  {%- set types = {'VARCHAR': 'string', 'BOOLEAN': 'boolean', 'BIGINT': 'bigint', 'INTEGER': 'int', 'DOUBLE': 'double'} -%}
  (
    select
      {%- for name, kind in columns.items() %}
      cast(_c{{ loop.index0 }} as {{ types.get(kind | upper, kind) }}) as {{ name }}{{ "," if not loop.last }}
      {%- endfor %}
    from csv.`{{ path | replace('`', '``') }}`
    where not (_c0 <=> '{{ (columns.keys() | list)[0] }}')
  ) as csv_file
{%- endmacro %}
