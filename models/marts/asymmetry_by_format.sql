{#- Asymmetry by format group (SS7.3): cells, safety-faster count and rate, and
    the median asymmetry ratio (an infinite ratio sorts last, as in the report). -#}
with cell_asymmetry as (
    select
        format_group,
        quant_order,
        asymmetry_ratio,
        safety_degrades_faster
    from {{ ref('int_cell_asymmetry') }}
)

select
    format_group,
    min(quant_order) as first_quant_order,
    count(*) as cells,
    {{ quant_safety.count_where('safety_degrades_faster') }} as safety_faster_cells,
    cast({{ quant_safety.count_where('safety_degrades_faster') }} as {{ quant_safety.marts_double_type() }}) / count(*) as safety_faster_rate,
    {{ quant_safety.median_of('asymmetry_ratio') }} as median_asymmetry_ratio
from cell_asymmetry
group by format_group
