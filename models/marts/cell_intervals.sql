{#- 95% intervals of every cell level and of its delta against the model's
    baseline cell, one row per (cell, metric of macro interval_metrics): the
    methods are int_cell_intervals'. The matrix carries the same bounds as
    <metric>_ci_lo / _ci_hi and <delta>_ci_lo / _ci_hi. -#}
select
    base_model,
    quant,
    metric,
    is_baseline,
    level,
    n,
    level_ci_method,
    level_ci_lo,
    level_ci_hi,
    delta_unit,
    delta,
    delta_ci_method,
    delta_ci_lo,
    delta_ci_hi
from {{ ref('int_cell_intervals') }}
