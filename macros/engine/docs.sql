{#- Descriptions as warehouse comments (persist_docs), written once per run on DuckDB.

    Every model's and seed's description and column descriptions (the _<dir>__models.yml
    files) become DuckDB comments: DESCRIBE, duckdb_columns() and BI tools show them.
    dbt-duckdb's own persist_docs makes three round trips per relation (the relation
    comment, a column listing, the column comments), each through agate and dbt's event
    log: ~4 s of a 40 s demo build. On DuckDB the per-relation call is a no-op here and
    one on-run-end hook writes every comment of the relations this run built: one
    column listing for all of them, then one batch of COMMENT ON statements (the hook's
    SQL). Whitespace runs in a description (YAML line breaks) become one space. A relation
    that failed or was skipped gets none (the build's file is discarded then anyway).
    Other adapters keep their own persist_docs (dbt-spark writes the relation comment
    in its CREATE TABLE). -#}
{% macro duckdb__persist_docs(relation, model, for_relation=true, for_columns=true) -%}
{%- endmacro %}

{% macro persist_docs_of_run(results) -%}
  {%- if not execute or target.type != 'duckdb' -%}
    {{ return('') }}
  {%- endif -%}
  {%- set built = [] -%}
  {%- for result in results
        if result.node.resource_type in ('model', 'seed') and result.status in ('success', 'pass')
           and result.node.config.get('persist_docs') -%}
    {%- do built.append(result.node) -%}
  {%- endfor -%}
  {%- if not built -%}
    {{ return('') }}
  {%- endif -%}
  {%- set listing -%}
    select lower(table_schema) || '.' || lower(table_name) as relation_key, column_name
    from information_schema.columns
    where table_catalog = {{ quant_safety.sql_string(target.database) }}
      and (lower(table_schema), lower(table_name)) in (
        {%- for node in built %}
        ({{ quant_safety.sql_string(node.schema | lower) }}, {{ quant_safety.sql_string(node.alias | lower) }})
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
      )
  {%- endset -%}
  {%- set existing = {} -%}
  {#- outside a transaction: the hook's statements below run autocommitted -#}
  {%- for row in adapter.execute(listing, auto_begin=False, fetch=True)[1] -%}
    {%- do existing.setdefault(row[0], {}).update({row[1] | lower: row[1]}) -%}
  {%- endfor -%}
  {%- set statements = [] -%}
  {%- for node in built -%}
    {%- set key = (node.schema | lower) ~ '.' ~ (node.alias | lower) -%}
    {%- set docs = node.config.get('persist_docs') -%}
    {%- set kind = 'view' if node.config.materialized == 'view' else 'table' -%}
    {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) -%}
    {%- if docs.get('relation') and node.description -%}
      {%- do statements.append('comment on ' ~ kind ~ ' ' ~ relation ~ ' is '
                               ~ quant_safety.sql_string(node.description.split() | join(' '))) -%}
    {%- endif -%}
    {%- if docs.get('columns') -%}
      {%- set columns = existing.get(key, {}) -%}
      {%- for name, column in node.columns.items()
            if column.description and (name | lower) in columns -%}
        {%- do statements.append('comment on column ' ~ relation ~ '.'
                                 ~ quant_safety.sql_identifier(columns[name | lower]) ~ ' is '
                                 ~ quant_safety.sql_string(column.description.split() | join(' '))) -%}
      {%- endfor -%}
    {%- endif -%}
  {%- endfor -%}
  {#- one transaction: ~40% faster than one commit per COMMENT ON -#}
  {{ return(('begin transaction;\n' ~ (statements | join(';\n')) ~ ';\ncommit') if statements else '') }}
{%- endmacro %}
