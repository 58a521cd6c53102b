{#- Failure-mode catalog (SS20.3 Table 19, Appendix C): the static text of the
    taxonomy_catalog seed with the observed counts computed from
    phase5_row_taxonomy. TAX_001 is matrix-level (sign reversal across
    within-model correlations): its count is left NULL here and comes from the
    statistics layer. TAX_006 also names the derived conservative floor level. -#}
with row_counts as (
    select tax_id, count(*) as observed_rows
    from {{ ref('phase5_row_taxonomy') }}
    group by tax_id
),

floor_level as (
    select min(quant) as conservative_floor_quant
    from {{ ref('quant_floor') }}
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
        when catalog.tax_id = 'TAX_006' then floor_level.conservative_floor_quant
    end as observed_level,
    catalog.note
from {{ ref('taxonomy_catalog') }} as catalog
left join row_counts
    on row_counts.tax_id = catalog.tax_id
cross join floor_level
