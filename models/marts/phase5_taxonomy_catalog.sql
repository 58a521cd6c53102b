{#- Failure-mode catalog (SS20.3 Table 19, Appendix C): the static text of the
    taxonomy_catalog seed with the observed counts computed from
    int_cell_taxonomy. The matrix-scope mode (sign reversal across within-model
    correlations) has its count left NULL here: it comes from the statistics
    layer. The conservative_floor_candidate mode also names the derived
    conservative floor level (int_quant_floor). -#}
with row_counts as (
    select
        tax_id,
        count(*) as observed_rows
    from {{ ref('int_cell_taxonomy') }}
    group by tax_id
),

floor_level as (
    select min(quant) as conservative_floor_quant
    from {{ ref('int_quant_floor') }}
    where is_conservative_floor
)

select
    catalog.tax_id,
    catalog.failure_mode,
    catalog.trigger_rule,
    catalog.deployment_implication,
    catalog.observed_scope,
    case
        when catalog.observed_scope = 'row' then coalesce(row_counts.observed_rows, 0)
    end as observed_rows,
    case
        when catalog.rule_key = 'conservative_floor_candidate' then floor_level.conservative_floor_quant
    end as observed_level,
    catalog.note
from {{ ref('taxonomy_catalog') }} as catalog
left join row_counts
    on catalog.tax_id = row_counts.tax_id
cross join floor_level
