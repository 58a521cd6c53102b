{#- Which sides of every cell have rows (README "Data quality"): loaded rows of
    each record kind - quality (A; generation-task rows separately, the ones the
    quality means read), regex-scored safety (B), judge (C), response text (D) -
    and the same for the cell's baseline cell. A side with no rows gives NULL
    levels and deltas for that side; missing_sides / baseline_missing_sides name
    them (NULL when complete). -#}
{%- set kinds = [
    ('quality', 'stg_quality__samples'), ('safety', 'stg_safety__scored_samples'),
    ('judge', 'stg_judge__annotations'), ('text', 'stg_safety__generations')] -%}
with loaded as (
    {%- for kind, model in kinds %}
    select base_model, quant, '{{ kind }}' as side,
           {{ quant_safety.count_where("task_role = 'generation'" if kind == 'quality' else 'false') }} as generation_rows,
           count(*) as side_rows
    from {{ ref(model) }}
    group by base_model, quant
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

per_cell as (
    select
        cells.base_model,
        cells.quant,
        cells.quant_order,
        cells.baseline_quant,
        cells.is_baseline,
        {%- for kind, _ in kinds %}
        cast(coalesce(max(case when loaded.side = '{{ kind }}' then loaded.side_rows end), 0) as {{ dbt.type_bigint() }}) as {{ kind }}_rows,
        {%- endfor %}
        cast(coalesce(max(case when loaded.side = 'quality' then loaded.generation_rows end), 0) as {{ dbt.type_bigint() }}) as quality_generation_rows
    from {{ ref('int_cells') }} as cells
    left join loaded
        on loaded.base_model = cells.base_model and loaded.quant = cells.quant
    group by cells.base_model, cells.quant, cells.quant_order, cells.baseline_quant, cells.is_baseline
),

with_sides as (
    select
        *,
        {%- for kind, _ in kinds %}
        {{ kind }}_rows > 0 as has_{{ kind }},
        {%- endfor %}
        nullif(concat_ws(', '
            {%- for kind, _ in kinds %}, case when {{ kind }}_rows = 0 then '{{ kind }}' end{% endfor %}), '') as missing_sides
    from per_cell
)

select
    cell.base_model,
    cell.quant,
    cell.quant_order,
    cell.baseline_quant,
    cell.is_baseline,
    (baseline.base_model is not null) as has_baseline_cell,
    cell.quality_rows,
    cell.quality_generation_rows,
    cell.safety_rows,
    cell.judge_rows,
    cell.text_rows,
    cell.has_quality,
    cell.has_safety,
    cell.has_judge,
    cell.has_text,
    cell.missing_sides,
    case when baseline.base_model is null then 'no baseline cell' else baseline.missing_sides end as baseline_missing_sides
from with_sides as cell
left join with_sides as baseline
    on baseline.base_model = cell.base_model
    and baseline.quant = cell.baseline_quant
