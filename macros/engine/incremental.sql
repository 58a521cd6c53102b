{#- How the parse models replace the rows of a re-read source file.
    DuckDB: delete+insert on unique_key source_label.
    Spark: dbt-spark has no delete+insert on parquet tables; the table is
    partitioned by source_label and insert_overwrite (dynamic partition
    overwrite) replaces exactly the partitions of the files read this run,
    which is the same semantics. Used in config() of the base_<kind>__lines models (base_lines_config). -#}
{% macro by_source_incremental_strategy() -%}
  {{ return(adapter.dispatch('by_source_incremental_strategy', 'quant_safety')()) }}
{%- endmacro %}

{% macro default__by_source_incremental_strategy() -%}
  {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__by_source_incremental_strategy() -%}
  {{ return('insert_overwrite') }}
{%- endmacro %}

{% macro by_source_partition_by() -%}
  {{ return(adapter.dispatch('by_source_partition_by', 'quant_safety')()) }}
{%- endmacro %}

{% macro default__by_source_partition_by() -%}
  {{ return(none) }}
{%- endmacro %}

{% macro spark__by_source_partition_by() -%}
  {{ return(['source_label']) }}
{%- endmacro %}

{#- config() of every base_<kind>__lines model: incremental by source file
    (a file re-read replaces its rows), the table's shape fixed. -#}
{% macro base_lines_config() -%}
  {{ return({'materialized': 'incremental',
             'incremental_strategy': quant_safety.by_source_incremental_strategy(),
             'unique_key': 'source_label',
             'partition_by': quant_safety.by_source_partition_by(),
             'on_schema_change': 'fail'}) }}
{%- endmacro %}
