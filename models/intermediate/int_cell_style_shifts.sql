{#- Phase 6 refusal-style features per non-baseline cell with a baseline (SS10),
    their deltas (cell - baseline, own unit), and the Table 10 flags:
    template_destabilization = dominant-prefix delta < 0 and unique-prefix delta > 0;
    verbosity_shift = mean-token delta > var verbosity_shift_tokens. -#}
select
    base_model,
    family,
    quant,
    format,
    quant_order,
    baseline_quant,
    advbench_n,
    advbench_refusals,
    advbench_refusal_rate,
    advbench_refusal_rate_delta,
    100.0 * advbench_refusal_rate_delta as advbench_refusal_rate_delta_pp,
    safety_refusal_rate_delta_pp,
    distinct_prefixes,
    dominant_prefix_share,
    dominant_prefix_share_delta,
    unique_prefix_rate,
    unique_prefix_rate_delta,
    prefix_entropy_norm,
    prefix_entropy_norm_delta,
    mean_tokens_refusal,
    mean_tokens_refusal_delta,
    mean_chars_refusal,
    mean_chars_refusal_delta,
    hard_refusal_rate,
    hard_refusal_rate_delta,
    coalesce(dominant_prefix_share_delta < 0 and unique_prefix_rate_delta > 0, false) as template_destabilization,
    coalesce(mean_tokens_refusal_delta > {{ var('verbosity_shift_tokens') }}, false) as verbosity_shift
from {{ ref('int_cell_deltas') }}
where not is_baseline and has_baseline_cell
