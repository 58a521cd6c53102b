{#- Generic tests of the cell marts (no dbt hub packages here). -#}

{#- Every row of the model has a matching row in another model on the given columns. -#}
{% test has_row_in(model, to, columns) %}
select {% for c in columns %}src.{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}
from {{ model }} as src
left join {{ to }} as dst
  on {% for c in columns %}src.{{ c }} = dst.{{ c }}{% if not loop.last %} and {% endif %}{% endfor %}
where dst.{{ columns[0] }} is null
{% endtest %}
