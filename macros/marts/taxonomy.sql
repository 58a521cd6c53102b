{#- The ids of the row-scope failure modes of the taxonomy_catalog seed, in
    tax_id order, read at compile time: the matrix has one <id>_flag column per
    id (lower-cased), so the list of modes is the seed's, never typed in a
    model. An id must be a plain identifier (letters, digits, _), as it becomes
    a column name. Before execution (parse) the list is empty; the ref makes
    the calling model depend on the seed. -#}
{% macro row_failure_modes() -%}
  {%- set catalog = ref('taxonomy_catalog') -%}
  {%- if not execute -%}
    {{ return([]) }}
  {%- endif -%}
  {%- set result = run_query("select tax_id from " ~ catalog ~ " where observed_scope = 'row' order by tax_id") -%}
  {%- set ids = [] -%}
  {%- for row in result.rows -%}
    {%- set tax_id = row[0] -%}
    {%- if tax_id is none or not modules.re.match('^[A-Za-z][A-Za-z0-9_]*$', tax_id) -%}
      {{ exceptions.raise_compiler_error("taxonomy_catalog: tax_id " ~ (tax_id | string | tojson) ~ " is not an identifier (letters, digits, _)") }}
    {%- endif -%}
    {%- do ids.append(tax_id) -%}
  {%- endfor -%}
  {{ return(ids) }}
{%- endmacro %}
