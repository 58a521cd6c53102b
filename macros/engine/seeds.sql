{#- Seeds on Spark. dbt-spark's session cursor substitutes the seed values into
    the INSERT with Python %-formatting, unescaped: a value with a quote
    ("the report's data") breaks the statement and an empty CSV cell (None)
    becomes the string 'None'. This override (the root project's macro wins over
    the adapter's for the dbt namespace) renders every value as an escaped SQL
    literal instead, NULL for an empty cell. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
  {% set batch_size = get_batch_size() %}
  {% set column_override = model['config'].get('column_types', {}) %}
  {% set statements = [] %}
  {% for chunk in agate_table.rows | batch(batch_size) %}
      {% set sql %}
          insert into {{ this.render() }} values
          {% for row in chunk -%}
              ({%- for col_name in agate_table.column_names -%}
                  {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                  {%- set type = column_override.get(col_name, inferred_type) -%}
                    cast({{ quant_safety.spark_seed_literal(row[loop.index0]) }} as {{ type }})
                  {%- if not loop.last %},{%- endif %}
              {%- endfor -%})
              {%- if not loop.last %},{%- endif %}
          {%- endfor %}
      {% endset %}
      {% do adapter.add_query(sql, abridge_sql_log=True) %}
      {% if loop.index0 == 0 %}
          {% do statements.append(sql) %}
      {% endif %}
  {% endfor %}
  {{ return(statements[0]) }}
{% endmacro %}

{#- One seed value as a Spark SQL literal (the quoting macro: string literals take backslash escapes). -#}
{% macro spark_seed_literal(value) -%}
  {%- if value is none -%}
    null
  {%- elif value is sameas true -%}
    true
  {%- elif value is sameas false -%}
    false
  {%- elif value is number -%}
    '{{ value }}'
  {%- else -%}
    {{ quant_safety.sql_string(value | string) }}
  {%- endif -%}
{%- endmacro %}
