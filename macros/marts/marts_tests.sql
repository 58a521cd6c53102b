{#- Generic tests of the cell marts (no dbt hub packages here). -#}

{#- A rate lies inside its confidence interval: lo <= rate <= hi (rows with a NULL pass). -#}
{% test inside_interval(model, column_name, lower, upper) %}
select *
from {{ model }}
where {{ column_name }} is not null
  and ({{ lower }} > {{ column_name }} + 1e-12 or {{ upper }} < {{ column_name }} - 1e-12)
{% endtest %}

{#- The column is NULL exactly when the condition holds. -#}
{% test null_exactly_when(model, column_name, condition) %}
select *
from {{ model }}
where ({{ column_name }} is null) <> coalesce(({{ condition }}), false)
{% endtest %}

{#- Every row of the model has a matching row in another model on the given columns. -#}
{% test has_row_in(model, to, columns) %}
select {% for c in columns %}src.{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}
from {{ model }} as src
left join {{ to }} as dst
  on {% for c in columns %}src.{{ c }} = dst.{{ c }}{% if not loop.last %} and {% endif %}{% endfor %}
where dst.{{ columns[0] }} is null
{% endtest %}
