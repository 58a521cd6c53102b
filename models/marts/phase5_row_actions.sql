{#- Deployment action per cell (the SS20.2 decision tree read so that it
    reproduces Appendix A): the rule ladder is int_cell_actions'. -#}
select
    base_model,
    quant,
    family,
    format,
    quant_order,
    is_baseline,
    regime,
    gap_pp,
    measurement_divergence,
    safety_refusal_rate_delta_pp,
    judge_refusal_rate_delta_pp,
    max_abs_drift_pp,
    bounded_drift,
    decision_step,
    deployment_action,
    decision_reason,
    regime_confidence,
    deployment_action_note
from {{ ref('int_cell_actions') }}
