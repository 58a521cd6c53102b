{#- One row per cell x triggered failure mode (SS20.3 / Appendix C): the rules
    are int_cell_taxonomy's, the ids and names the taxonomy_catalog seed's. -#}
select
    base_model,
    quant,
    tax_id,
    failure_mode,
    quality_delta_pp,
    refusal_delta_pp,
    gap_pp
from {{ ref('int_cell_taxonomy') }}
