{#- The load chunks of this run's source audit: byte ranges of whole lines
    (about QSAFETY_LOAD_CHUNK_BYTES each) and every line over raw_line_max_bytes
    as a chunk of its own, each with its sha256. Staging reads exactly these
    ranges (qsafety_read_chunk checks each range's sha256 as it reads it), so
    the bytes parsed are the bytes audited. Same sources as audit_source_files. -#}
{{ config(materialized = 'table') }}

{%- set tables = quant_safety.raw_source_tables() %}
{%- for kind, table in tables.items() %}
-- depends_on: {{ source('raw', table) }}
{%- endfor %}
-- chunk is a struct column of each row, not a second table:
-- noqa: disable=RF03

{% if target.type == 'duckdb' -%}
    {%- for kind, table in tables.items() %}
        select
            source_label,
            chunk.chunk_no,
            real_path,
            chunk.byte_offset,
            chunk.byte_length,
            chunk.first_line,
            chunk.line_count,
            chunk.sha256,
            chunk.chunk_kind,
            chunk.line_bytes
        from (
            select
                source_label,
                real_path,
                unnest(chunks) as chunk
            from {{ source('raw', table) }}
        ) as file_chunks
        {{ 'union all' if not loop.last }}
    {%- endfor %}
{%- else -%}
    select
        source_label,
        chunk_no,
        real_path,
        byte_offset,
        byte_length,
        first_line,
        line_count,
        sha256,
        chunk_kind,
        line_bytes
    from {{ quant_safety.read_csv_file(quant_safety.audit_csv('source_chunks.csv'), quant_safety.audit_chunk_columns()) }}
{%- endif %}
