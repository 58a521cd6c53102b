{#- The source audit of this run, one row per lockfile file: what was found on
    disk (exists, size in bytes, sha256, number of \n-separated lines), read
    from the raw sources (_raw__sources.yml). On DuckDB each source is the
    plugin's qsafety_source_files: under a plain `dbt build` the audit is
    computed inside this dbt run, under `qsafety build` it is the pre-flight's
    (the same function, manifest.audit_lockfile). On Spark (qsafety build only)
    the pre-flight's source_audit.csv is read. -#}
{{ config(materialized = 'table') }}

{%- set tables = quant_safety.raw_source_tables() %}
{%- for kind, table in tables.items() %}
-- depends_on: {{ source('raw', table) }}
{%- endfor %}

{% if target.type == 'duckdb' -%}
    {%- for kind, table in tables.items() %}
        select
            source_label,
            relative_path,
            file_exists,
            size_bytes,
            sha256,
            raw_lines
        from {{ source('raw', table) }}
        {{ 'union all' if not loop.last }}
    {%- endfor %}
{%- else -%}
    select
        source_label,
        relative_path,
        file_exists,
        size_bytes,
        sha256,
        raw_lines
    from {{ quant_safety.read_csv_file(quant_safety.audit_csv('source_audit.csv'), quant_safety.audit_file_columns()) }}
{%- endif %}
