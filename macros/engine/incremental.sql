{#- How the parse models replace the rows of a re-read source file.
    DuckDB: delete+insert on unique_key source_label.
    Spark: dbt-spark has no delete+insert on parquet tables; the table is
    partitioned by source_label and insert_overwrite (dynamic partition
    overwrite) replaces exactly the partitions of the files read this run,
    which is the same semantics. Used in config() of the *__parsed models. -#}
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
