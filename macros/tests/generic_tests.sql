{#- Small generic tests (no dbt hub packages here). -#}

{#- No two rows share the same values of the given columns. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as duplicate_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Every row satisfies a SQL boolean expression (NULL counts as failure unless allow_null). -#}
{% test expression_is_true(model, expression, allow_null=false) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), {{ 'true' if allow_null else 'false' }})
{% endtest %}

{#- Values lie in [min_value, max_value] (NULLs pass; combine with not_null). -#}
{% test between(model, column_name, min_value=none, max_value=none) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and (
    {%- if min_value is not none %} {{ column_name }} < {{ min_value }}{% endif -%}
    {%- if min_value is not none and max_value is not none %} or{% endif -%}
    {%- if max_value is not none %} {{ column_name }} > {{ max_value }}{% endif %}
  )
{% endtest %}
