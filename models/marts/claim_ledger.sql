{#- The claim ledger (Appendix E.1 claim_ledger.csv, E.4): every quantitative
    claim of the report (seed `claims`: published value, unit, section,
    tolerance = the report's stated precision, contradicting values and the
    inconsistencies.md item) joined to a value COMPUTED here from the marts and
    statistics tables — no computed value is typed anywhere.

    Each entry of `computations` below is one scalar query per claim:
      full  - on the whole warehouse (the report's 51-cell bundle on the demo data);
      w1    - optional, the same query on the older 47-cell bundle (cells whose
              sources all belong to release wave 1; stats scope through_wave_1),
              used to say which of two contradicting published numbers the data
              support. `{w}` is replaced by a cell filter, `{s}` by a stats scope.
      text  - a categorical claim (computed_text compared with published_category).

    status: reproduced   |computed - published| <= tolerance (or equal category), on
                         data that could have disagreed;
            by_construction  the same match, but on the synthetic demo data (provenance
                         below) for a claim computed only from values the demo is
                         calibrated to (claims.demo_calibrated): true by construction;
            differs      otherwise, with status_reason = the seed's reason (which
                         bundle / inconsistencies.md item) or 'UNEXPLAINED ...';
            not_computable  the warehouse holds no data for the claim. -#}
{{ config(tags = ['reads_statistics']) }}
{%- set adv = "refusal_measure = 'advbench_refusal_rate_delta'" -%}
{%- set bert_regex = "quality_metric = 'quality_bertscore' and safety_metric = 'safety_refusal_rate'" -%}
{%- set computations = [
  {'id': 'ABS_001', 'full': "select count(*) from cells where {w}", 'both': true},
  {'id': 'ABS_002', 'full': "select count(distinct base_model) from cells where {w}"},
  {'id': 'ABS_003', 'full': "select count(distinct family) from cells where {w}"},
  {'id': 'ABS_004', 'full': "select count(distinct format) from cells where {w}"},
  {'id': 'ABS_005', 'full': "select count(*) from cells where format in ('AWQ', 'GPTQ') and {w}", 'both': true},
  {'id': 'ABS_006', 'full': "select count(distinct base_model) from cells where quant = 'AWQ' and {w}", 'both': true},
  {'id': 'ABS_007', 'full': "select count(distinct base_model) from cells where quant = 'GPTQ' and {w}", 'both': true},
  {'id': 'ABS_008', 'full': "select sum(loaded_rows) from reconciliation where role = 'quality'"},
  {'id': 'ABS_009', 'full': "select sum(loaded_rows) from reconciliation where role = 'safety'"},
  {'id': 'ABS_010', 'full': "select sum(loaded_rows) from reconciliation where role = 'judge'"},
  {'id': 'ABS_011', 'full': "select count(*) from regime_cells where regime = 'hidden_danger' and format in ('AWQ', 'GPTQ') and {w}", 'both': true},
  {'id': 'ABS_012', 'full': "select min(-safety_refusal_rate_delta_pp) from regime_cells where regime = 'hidden_danger' and format in ('AWQ', 'GPTQ') and {w}", 'both': true},
  {'id': 'ABS_013', 'full': "select max(-safety_refusal_rate_delta_pp) from regime_cells where regime = 'hidden_danger' and format in ('AWQ', 'GPTQ') and {w}", 'both': true},
  {'id': 'ABS_014', 'full': "select count(*) from q5 where within_floor_tolerance"},
  {'id': 'ABS_015', 'full': "select agreement_pct from sj_agree where grouping = 'overall'"},
  {'id': 'ABS_016', 'full': "select cohen_kappa from sj_agree where grouping = 'overall'"},
  {'id': 'ABS_017', 'full': "select n from sj_agree where grouping = 'overall'"},
  {'id': 'EXS_101', 'full': "select quality_bertscore_delta_pp from cells where base_model = 'llama3.2-1b' and quant = 'AWQ'"},
  {'id': 'EXS_102', 'full': "select safety_refusal_rate_delta_pp from cells where base_model = 'llama3.2-1b' and quant = 'AWQ'"},
  {'id': 'EXS_103', 'full': "select quality_bertscore_delta_pp from cells where base_model = 'llama3.2-1b' and quant = 'GPTQ'"},
  {'id': 'EXS_104', 'full': "select safety_refusal_rate_delta_pp from cells where base_model = 'llama3.2-1b' and quant = 'GPTQ'"},
  {'id': 'EXS_105', 'full': "select quality_bertscore_delta_pp from cells where base_model = 'phi-2' and quant = 'GPTQ'"},
  {'id': 'EXS_106', 'full': "select safety_refusal_rate_delta_pp from cells where base_model = 'phi-2' and quant = 'GPTQ'"},
  {'id': 'EXS_107', 'full': "select count(*) from regime_cells where base_model = 'mistral-7b' and quant in ('AWQ', 'GPTQ') and regime = 'hidden_danger' and {w}", 'both': true},
  {'id': 'REV_001', 'full': "select max(n_pairings_reversing) from sign_reversals where scope = '{s}'", 'both': true},
  {'id': 'REV_002', 'full': "select max(n_pairings_reversing) from sign_reversals where scope = '{s}'", 'both': true},
  {'id': 'EXS_201', 'full': "select pearson_r from pooled_corr where scope = '{s}' and " ~ bert_regex, 'both': true},
  {'id': 'EXS_202', 'full': "select spearman_rho from pooled_corr where scope = '{s}' and " ~ bert_regex, 'both': true},
  {'id': 'EXS_203', 'full': "select case when pearson_p >= 0.05 and spearman_p >= 0.05 then 1 else 0 end from pooled_corr where scope = '{s}' and " ~ bert_regex, 'both': true},
  {'id': 'ASY_001', 'full': "select count(*) from asym where safety_degrades_faster and {w}", 'both': true},
  {'id': 'EXS_301', 'full': "select count(*) from asym where {w}", 'both': true},
  {'id': 'EXS_302', 'full': "select count(*) from asym where format in ('AWQ', 'GPTQ') and safety_degrades_faster and {w}", 'both': true},
  {'id': 'REG_001', 'full': "select count(*) from regime_cells where regime = 'hidden_danger' and {w}", 'both': true},
  {'id': 'EXS_401', 'full': "select count(distinct family) from regime_cells where regime = 'hidden_danger' and {w}", 'both': true},
  {'id': 'EXS_402', 'full': "select count(*) from regime_cells where regime = 'near_hidden_danger' and {w}", 'both': true},
  {'id': 'FLR_001', 'full': "select max(abs(judge_refusal_rate_delta_pp)) from q5"},
  {'id': 'FLR_002', 'full': "select max(abs(safety_refusal_rate_delta_pp)) from q5"},
  {'id': 'EXS_501', 'full': "select count(*) from q5 where regime = 'hidden_danger'"},
  {'id': 'EXS_601', 'full': "select pearson_r from style_corr where scope = '{s}' and style_metric = 'dominant_prefix_share_delta'", 'both': true},
  {'id': 'EXS_602', 'full': "select pearson_p from style_corr where scope = '{s}' and style_metric = 'dominant_prefix_share_delta'", 'both': true},
  {'id': 'EXS_603', 'full': "select pearson_r from style_corr where scope = '{s}' and style_metric = 'unique_prefix_rate_delta'", 'both': true},
  {'id': 'EXS_604', 'full': "select pearson_r from style_corr where scope = '{s}' and style_metric = 'mean_tokens_refusal_delta'", 'both': true},
  {'id': 'EXS_605', 'full': "select pearson_p from style_corr where scope = '{s}' and style_metric = 'mean_tokens_refusal_delta'", 'both': true},
  {'id': 'EXS_606', 'full': "select pearson_r from style_corr where scope = '{s}' and style_metric = 'hard_refusal_rate_delta'", 'both': true},
  {'id': 'EXS_701', 'full': "select count(*) from gaps where measurement_divergence and {w}", 'both': true},
  {'id': 'JDG_001', 'full': "select min(abs_gap_pp) from gaps where base_model = 'mistral-7b' and format = 'GGUF' and {w}"},
  {'id': 'JDG_002', 'full': "select max(abs_gap_pp) from gaps where base_model = 'mistral-7b' and format = 'GGUF' and {w}"},
  {'id': 'EXS_801', 'full': "select count(*) from sj_regime where regime = 'hidden_danger' and flips"},
  {'id': 'VAL_001', 'full': "select count(distinct base_model) from cells where {w}"},
  {'id': 'VAL_002', 'full': "select count(distinct family) from cells where {w}"},
  {'id': 'VAL_003', 'full': "select count(*) from cells where {w}", 'both': true},
  {'id': 'VAL_004', 'full': "select count(distinct format) from cells where {w}"},
  {'id': 'VAL_005', 'full': "select count(distinct fam.family) from within_corr w inner join model_families fam on fam.base_model = w.model inner join pooled_corr p on p.scope = w.scope and p.quality_metric = w.quality_metric and p.safety_metric = w.safety_metric where w.scope = '{s}' and w.quality_metric = 'quality_bertscore' and w.safety_metric = 'safety_refusal_rate' and w.pearson_r * p.pearson_r < 0", 'both': true},
  {'id': 'VAL_006', 'full': "select 100.0 * sum(case when safety_degrades_faster then 1 else 0 end) / count(*) from asym where {w}", 'both': true},
  {'id': 'VAL_007', 'full': "select count(*) from regime_cells where regime = 'hidden_danger' and format in ('AWQ', 'GPTQ') and {w}", 'both': true},
  {'id': 'VAL_008', 'full': "select case when max(abs(judge_refusal_rate_delta_pp)) < " ~ var('floor_tight_tolerance_pp') ~ " then 1 else 0 end from q5"},
  {'id': 'VAL_009', 'full': "select pearson_p from style_corr where scope = '{s}' and style_metric = 'dominant_prefix_share_delta'", 'both': true},
  {'id': 'VAL_010', 'full': "select pearson_p from style_corr where scope = '{s}' and style_metric = 'mean_tokens_refusal_delta'", 'both': true},
  {'id': 'VAL_011', 'full': "select count(*) from cells where safety_refusal_rate is not null and judge_refusal_rate is not null and {w}", 'both': true},
  {'id': 'COR_001', 'full': "select count(*) from deployment where quant in ('AWQ', 'GPTQ') and recommended_role = 'not_blanket_safe'"},
  {'id': 'COR_002', 'full': "select max(n_pairings_reversing) from sign_reversals where scope = '{s}'", 'both': true},
  {'id': 'COR_003', 'text': "select min(quant) from floors where is_conservative_floor"},
  {'id': 'COR_004', 'full': "select max(abs_gap_pp) from gaps where {w}", 'both': true},
  {'id': 'COR_005', 'full': "select case when pearson_r > 0 and pearson_p < 0.001 then 1 else 0 end from style_corr where scope = '{s}' and style_metric = 'dominant_prefix_share_delta'", 'both': true},
  {'id': 'CLM_C1', 'full': "select max(n_pairings_reversing) from sign_reversals where scope = '{s}'", 'both': true},
  {'id': 'CLM_C2', 'full': "select count(*) from asym where safety_degrades_faster and {w}", 'both': true},
  {'id': 'CLM_C3', 'full': "select count(*) from regime_cells where regime = 'hidden_danger' and {w}", 'both': true},
  {'id': 'CLM_C3_NEAR', 'full': "select count(*) from regime_cells where regime = 'near_hidden_danger' and {w}", 'both': true},
  {'id': 'CLM_C3_FORMATS', 'full': "select count(distinct format) from regime_cells where regime = 'hidden_danger' and {w}", 'both': true},
  {'id': 'CLM_C4', 'full': "select count(*) from regime_cells where regime = 'hidden_danger' and format in ('AWQ', 'GPTQ') and {w}", 'both': true},
  {'id': 'CLM_C4_Q4', 'full': "select count(*) from regime_cells where regime = 'hidden_danger' and quant = 'Q4_K_M' and {w}", 'both': true},
  {'id': 'CLM_C5', 'full': "select count(*) from q5 where regime = 'hidden_danger'"},
  {'id': 'CLM_C5_MODELS', 'full': "select count(distinct base_model) from q5"},
  {'id': 'CLM_C6_PREFIX', 'full': "select pearson_r from style_corr where scope = '{s}' and style_metric = 'dominant_prefix_share_delta'", 'both': true},
  {'id': 'CLM_C6_TOKENS', 'full': "select pearson_r from style_corr where scope = '{s}' and style_metric = 'mean_tokens_refusal_delta'", 'both': true},
  {'id': 'CLM_C6_P', 'full': "select case when max(pearson_p) < 0.001 then 1 else 0 end from style_corr where scope = '{s}' and style_metric in ('dominant_prefix_share_delta', 'mean_tokens_refusal_delta')", 'both': true},
  {'id': 'CLM_C7', 'full': "select case when count(*) > 0 and 2 * sum(case when quality_bertscore_delta_pp >= -" ~ var('floor_tight_tolerance_pp') ~ " then 1 else 0 end) >= count(*) then 1 else 0 end from cells where not is_baseline and safety_refusal_rate_delta_pp < -" ~ var('refusal_drop_pp') ~ " and {w}", 'both': true},
  {'id': 'CLM_C8', 'full': "select count(*) from gaps where measurement_divergence and {w}", 'both': true},
  {'id': 'MEC_001', 'full': "select pearson_r from style_corr where scope = '{s}' and style_metric = 'dominant_prefix_share_delta'", 'both': true},
  {'id': 'MEC_002', 'full': "select pearson_r from style_corr where scope = '{s}' and style_metric = 'mean_tokens_refusal_delta'", 'both': true},
  {'id': 'ROB_005', 'full': "select case when pearson_sign_flips then 1 else 0 end from loqo where scope = '{s}' and dropped = 'Q2_K'", 'both': true},
  {'id': 'ROB_006', 'full': "select pearson_r from loqo where scope = '{s}' and dropped = 'Q2_K'", 'both': true},
  {'id': 'FLR_003', 'full': "select mean_refusal_delta_pp from floors where quant = 'AWQ'",
   'w1': "select cast(sum(cast(safety_refusal_rate_delta_pp as decimal(38, 18))) as double) / count(safety_refusal_rate_delta_pp) from cells where quant = 'AWQ' and not is_baseline and release_wave = 1"},
  {'id': 'FLR_004', 'full': "select mean_refusal_delta_pp from floors where quant = 'GPTQ'",
   'w1': "select cast(sum(cast(safety_refusal_rate_delta_pp as decimal(38, 18))) as double) / count(safety_refusal_rate_delta_pp) from cells where quant = 'GPTQ' and not is_baseline and release_wave = 1"},
  {'id': 'FLR_005', 'full': "select mean_bertscore_delta_pp from floors where quant = 'GPTQ'",
   'w1': "select cast(sum(cast(quality_bertscore_delta_pp as decimal(38, 18))) as double) / count(quality_bertscore_delta_pp) from cells where quant = 'GPTQ' and not is_baseline and release_wave = 1"},
  {'id': 'DEP_001', 'full': "select max_refusal_signal_pp from deployment where quant = 'AWQ'"},
  {'id': 'DEP_002', 'full': "select max_refusal_signal_pp from deployment where quant = 'GPTQ'"},
  {'id': 'SRC_001', 'full': "select sum(loaded_rows) from reconciliation where source_label = 'tr134_legacy_judge'"},
  {'id': 'SRC_002', 'full': "select sum(loaded_rows) from reconciliation where role in ('quality', 'safety', 'judge')"},
  {'id': 'SRC_003', 'full': "select sum(raw_lines) from reconciliation where role in ('quality', 'safety', 'judge')"},
  {'id': 'REG_002', 'full': "select count(*) from regime_cells where regime = 'hidden_danger' and format = 'GGUF' and {w}", 'both': true},
] -%}

{#- second judge (Appendix F) -#}
{%- set sj_tasks = [('APF_001', 'APF_005', 'bbq_bias'), ('APF_002', 'APF_006', 'advbench_refusal'),
                    ('APF_003', 'APF_007', 'jailbreak_amplification'), ('APF_004', 'APF_008', 'truthfulqa')] -%}
{%- for agr_id, kappa_id, task in sj_tasks -%}
  {%- do computations.append({'id': agr_id, 'full': "select agreement_pct from sj_agree where grouping = 'task' and task_name = '" ~ task ~ "'"}) -%}
  {%- do computations.append({'id': kappa_id, 'full': "select cohen_kappa from sj_agree where grouping = 'task' and task_name = '" ~ task ~ "'"}) -%}
{%- endfor -%}
{%- do computations.append({'id': 'APF_009', 'full': "select sum(pair_rows) from sj_conf where task_name = 'all' and primary_judge_label = 'PARTIAL_REFUSAL' and second_judge_label = 'COMPLIANCE'"}) -%}
{%- do computations.append({'id': 'APF_010', 'text': "select min(second_judge_model) from sj_agree where grouping = 'overall'"}) -%}
{%- do computations.append({'id': 'APF_011', 'full': "select count(*) from sj_cells where full_coverage and is_baseline"}) -%}
{%- do computations.append({'id': 'APF_012', 'full': "select count(*) from sj_cells inner join regime_cells on regime_cells.base_model = sj_cells.base_model and regime_cells.quant = sj_cells.quant where sj_cells.full_coverage and regime_cells.regime = 'hidden_danger'"}) -%}
{%- do computations.append({'id': 'APF_020', 'full': "select count(*) from sj_cells where full_coverage"}) -%}
{%- do computations.append({'id': 'APF_013', 'full': "select count(*) from sj_regime where regime = 'hidden_danger' and regime_with_second_judge = 'hidden_danger'"}) -%}
{%- do computations.append({'id': 'APF_014', 'full': "select count(*) from sj_regime where flips_vs_primary_judge"}) -%}
{%- do computations.append({'id': 'APF_015', 'full': "select max(refusal_shift_pp) from sj_regime where regime = 'hidden_danger'"}) -%}
{%- do computations.append({'id': 'APF_016', 'full': "select min(refusal_shift_pp) from sj_regime where regime = 'hidden_danger'"}) -%}
{%- do computations.append({'id': 'APF_017', 'full': "select max(second_refusal_delta_pp) from sj_regime where regime = 'hidden_danger'"}) -%}
{%- do computations.append({'id': 'APF_018', 'full': "select avg(sj_cells.second_refusal_delta_pp) from sj_cells inner join cells on cells.base_model = sj_cells.base_model and cells.quant = sj_cells.quant where cells.format in ('AWQ', 'GPTQ')"}) -%}
{%- do computations.append({'id': 'APF_019', 'full': "select avg(sj_cells.primary_refusal_delta_pp) from sj_cells inner join cells on cells.base_model = sj_cells.base_model and cells.quant = sj_cells.quant where cells.format in ('AWQ', 'GPTQ')"}) -%}
{#- Table 15: regex-judge agreement per quant level, advbench_refusal -#}
{%- for q in ['FP16', 'Q8_0', 'Q6_K', 'Q5_K_M', 'AWQ', 'GPTQ', 'Q4_K_M', 'Q3_K_S', 'Q2_K'] -%}
  {%- do computations.append({'id': 'T15_' ~ q ~ '_N', 'full': "select count(*) from judge_pairs where task_name = 'advbench_refusal' and quant = '" ~ q ~ "' and {w}", 'both': true}) -%}
  {%- do computations.append({'id': 'T15_' ~ q ~ '_AGR', 'full': "select agreement_pct from judge_agree where task_name = 'advbench_refusal' and quant = '" ~ q ~ "'"}) -%}
  {%- do computations.append({'id': 'T15_' ~ q ~ '_KAPPA', 'full': "select cohen_kappa from judge_agree where task_name = 'advbench_refusal' and quant = '" ~ q ~ "'"}) -%}
{%- endfor -%}
{#- SS7.3: asymmetry by format group (the 47-cell values from the cells of release wave 1) -#}
{%- for g in ['gguf_mild', 'gguf_aggressive', 'awq', 'gptq'] -%}
  {%- set where_g = "format_group = '" ~ g ~ "'" -%}
  {%- do computations.append({'id': 'S73_' ~ g ~ '_CELLS', 'full': "select count(*) from asym where " ~ where_g ~ " and {w}", 'both': true}) -%}
  {%- do computations.append({'id': 'S73_' ~ g ~ '_FASTER', 'full': "select count(*) from asym where safety_degrades_faster and " ~ where_g ~ " and {w}", 'both': true}) -%}
  {%- do computations.append({'id': 'S73_' ~ g ~ '_RATE', 'full': "select 100.0 * sum(case when safety_degrades_faster then 1 else 0 end) / count(*) from asym where " ~ where_g ~ " and {w}", 'both': true}) -%}
  {%- do computations.append({'id': 'S73_' ~ g ~ '_MEDIAN', 'full': "select " ~ quant_safety.median_of('asymmetry_ratio') ~ " from asym where " ~ where_g ~ " and {w}", 'both': true}) -%}
{%- endfor -%}
{#- SS19 mixed models (regex refusal) -#}
{%- for i, q in [(1, 'quality_bertscore'), (2, 'quality_rouge_l'), (3, 'quality_coherence')] -%}
  {%- set where_q = "quality_metric = '" ~ q ~ "' and safety_metric = 'safety_refusal_rate'" -%}
  {%- do computations.append({'id': 'MIX_00' ~ i, 'full': "select coefficient from mixed where scope = '{s}' and " ~ where_q, 'both': true}) -%}
  {%- do computations.append({'id': 'MIX_00' ~ i ~ '_P', 'full': "select p from mixed where scope = '{s}' and " ~ where_q, 'both': true}) -%}
  {%- do computations.append({'id': 'MIX_00' ~ i ~ '_DEGENERATE', 'full': "select degenerate_fit_coefficient from mixed where scope = 'through_wave_1' and " ~ where_q}) -%}
{%- endfor -%}
{%- do computations.append({'id': 'MIX_004', 'full': "select count(*) from mixed where scope = '{s}' and safety_metric = 'safety_refusal_rate' and group_variance_collapsed", 'both': true}) -%}
{#- matrix width: the built relation's columns, and those the report defines -#}
{%- set matrix_columns = adapter.get_columns_in_relation(ref('matrix')) | map(attribute='name') | map('lower') | list if execute else [] -%}
{%- do computations.append({'id': 'MTX_001', 'full': "select " ~ (matrix_columns | length)}) -%}
{%- do computations.append({'id': 'MTX_002', 'full': "select " ~ (quant_safety.report_matrix_columns() | select('in', matrix_columns) | list | length)}) -%}
{#- Tables 5 / 5b: significance of the within-model correlations, t approximation vs exact -#}
{%- set t5 = "scope = 'through_wave_1' and safety_metric = 'safety_refusal_rate' and quality_metric in ('quality_bertscore', 'quality_coherence')" -%}
{%- do computations.append({'id': 'T05_SIG_T', 'full': "select count(*) from within_corr where " ~ t5 ~ " and spearman_p < 0.05"}) -%}
{%- do computations.append({'id': 'T05_SIG_EXACT', 'full': "select count(*) from within_corr where " ~ t5 ~ " and spearman_p_exact < 0.05"}) -%}
{%- do computations.append({'id': 'T05_SIG_PEARSON_EXACT', 'full': "select count(*) from within_corr where " ~ t5 ~ " and pearson_p_exact < 0.05"}) -%}
{#- the report's tables, number by number (claim_values): how many reproduce -#}
{%- for table_claim in ['TAB_APPA', 'TAB_APPA_REGIME', 'TAB_APPA_ACTION', 'TAB_04', 'TAB_05', 'TAB_05B', 'TAB_06', 'TAB_08',
                        'TAB_09', 'TAB_10', 'TAB_11', 'TAB_12', 'TAB_13', 'TAB_14', 'TAB_16', 'TAB_17', 'TAB_18'] -%}
  {%- do computations.append({'id': table_claim, 'full': "select sum(case when reproduces then 1 else 0 end) from table_values where claim_id = '" ~ table_claim ~ "'"}) -%}
{%- endfor -%}
{%- set dbl = quant_safety.marts_double_type() -%}
{%- set txt = dbt.type_string() -%}
with cells as (
    select * from {{ ref('matrix') }}
),

regime_cells as (
    select regimes.*, cells.release_wave
    from {{ ref('regimes') }} as regimes
    inner join cells on cells.base_model = regimes.base_model and cells.quant = regimes.quant
),

asym as (
    select asymmetry.*, cells.release_wave
    from {{ ref('asymmetry') }} as asymmetry
    inner join cells on cells.base_model = asymmetry.base_model and cells.quant = asymmetry.quant
),

gaps as (
    select gap_rows.*, cells.release_wave
    from {{ ref('regex_vs_judge_gaps') }} as gap_rows
    inner join cells on cells.base_model = gap_rows.base_model and cells.quant = gap_rows.quant
),

model_families as (
    select distinct base_model, family from cells
),

q5 as (select * from {{ ref('q5_floor') }}),
floors as (select * from {{ ref('quant_floor') }}),
deployment as (select * from {{ ref('phase5_quant_deployment') }}),
reconciliation as (select * from {{ ref('audit_reconciliation') }}),
sign_reversals as (select * from {{ quant_safety.stats_ref('sign_reversal_summary') }}),
pooled_corr as (select * from {{ quant_safety.stats_ref('correlations') }} where is_pooled),
within_corr as (select * from {{ quant_safety.stats_ref('correlations') }} where not is_pooled),
style_corr as (select * from {{ quant_safety.stats_ref('phase6_style_correlations') }} where {{ adv }}),
loqo as (select * from {{ quant_safety.stats_ref('leave_one_quant_out') }} where {{ bert_regex }}),
mixed as (select * from {{ quant_safety.stats_ref('mixed_models') }}),
{#- Appendix F is about one second judge: with several second-judge models in
    the kind-E files the claims read the one with the most rows (then by name). -#}
sj_model as (
    select second_judge_model
    from {{ ref('second_judge_agreement') }}
    where grouping = 'overall'
    order by n desc, second_judge_model
    limit 1
),
sj_agree as (select * from {{ ref('second_judge_agreement') }} where second_judge_model in (select second_judge_model from sj_model)),
sj_conf as (select * from {{ ref('second_judge_confusion') }} where second_judge_model in (select second_judge_model from sj_model)),
sj_cells as (select * from {{ ref('second_judge_cell_rates') }} where second_judge_model in (select second_judge_model from sj_model)),
sj_regime as (select * from {{ ref('second_judge_regime_stability') }} where second_judge_model in (select second_judge_model from sj_model)),
judge_agree as (select * from {{ ref('judge_agreement_quant') }}),
table_values as (select * from {{ ref('claim_values') }}),
judge_pairs as (
    select pairs.*, cells.release_wave
    from {{ ref('int_judge_regex_pairs') }} as pairs
    inner join cells on cells.base_model = pairs.base_model and cells.quant = pairs.quant
),

{#- Are the inputs the synthetic demo data? Decided by content in the
    pre-flight step (audit_source_provenance: quant_safety.demo.fingerprint, the
    same rule as the report's and the bundle's synthetic notes), so a user's
    own logs never count. On demo data a claim whose inputs are calibrated
    values (claims.demo_calibrated) holds by construction. -#}
provenance as (
    select coalesce(bool_and(inputs_are_demo), false) as inputs_are_demo
    from {{ ref('audit_source_provenance') }}
),

computed as (
    {%- for c in computations %}
    select
        '{{ c.id }}' as claim_id,
        {%- if c.full is defined %}
        cast(({{ c.full | replace('{w}', '1 = 1') | replace('{s}', 'all_cells') }}) as {{ dbl }}) as computed_value,
        {%- else %}
        cast(null as {{ dbl }}) as computed_value,
        {%- endif %}
        {%- if c.w1 is defined %}
        cast(({{ c.w1 }}) as {{ dbl }}) as computed_value_47cell,
        {%- elif c.both is defined and c.both %}
        cast(({{ c.full | replace('{w}', 'release_wave = 1') | replace('{s}', 'through_wave_1') }}) as {{ dbl }}) as computed_value_47cell,
        {%- else %}
        cast(null as {{ dbl }}) as computed_value_47cell,
        {%- endif %}
        {%- if c.text is defined %}
        cast(({{ c.text }}) as {{ txt }}) as computed_text
        {%- else %}
        cast(null as {{ txt }}) as computed_text
        {%- endif %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

joined as (
    select
        claims.*,
        computed.computed_value,
        computed.computed_value_47cell,
        computed.computed_text,
        computed.claim_id is not null as has_computation,
        abs(computed.computed_value - claims.published_value) <= claims.tolerance + 1e-9 as matches_published,
        abs(computed.computed_value_47cell - claims.published_value) <= claims.tolerance + 1e-9 as matches_published_47cell,
        abs(computed.computed_value - claims.conflicting_published_value) <= claims.tolerance + 1e-9 as matches_conflicting,
        abs(computed.computed_value_47cell - claims.conflicting_published_value) <= claims.tolerance + 1e-9 as matches_conflicting_47cell
    from {{ ref('claims') }} as claims
    left join computed on computed.claim_id = claims.claim_id
),

classified as (
    select
        joined.*,
        case
            when computed_value is null and computed_text is null then 'not_computable'
            when (published_category is not null and computed_text = published_category)
                or (published_category is null and coalesce(matches_published, false))
                then case when provenance.inputs_are_demo and joined.demo_calibrated then 'by_construction' else 'reproduced' end
            else 'differs'
        end as status
    from joined
    cross join provenance
)

select
    claim_id,
    claim_group,
    claim_text,
    published_text,
    published_value,
    published_category,
    unit,
    tolerance,
    report_section,
    source_model,
    computed_value,
    computed_text,
    abs(computed_value - published_value) as abs_difference,
    computed_value_47cell,
    status,
    case
        when status = 'reproduced' then null
        when status = 'by_construction'
            then 'by construction: the inputs are the synthetic demo data, calibrated to the published values this claim is computed from'
        when reason is not null and status = 'differs' and coalesce(matches_published_47cell, false)
            then reason || ' [the published value matches the older 47-cell bundle (release wave 1)]'
        when reason is not null then reason
        when status = 'not_computable' then 'UNEXPLAINED: no computation for this claim'
        else 'UNEXPLAINED difference: investigate (no documented reason)'
    end as status_reason,
    case
        when status in ('not_computable', 'reproduced', 'by_construction') then null
        when coalesce(matches_published_47cell, false) then '47_cell_only'
        else 'none'
    end as bundle_match,
    conflicting_published_text,
    conflicting_published_value,
    case
        when conflicting_published_value is null or computed_value is null then null
        when coalesce(matches_published, false) then published_text
        when coalesce(matches_conflicting, false) then conflicting_published_text
    end as data_supports,
    case
        when conflicting_published_value is null or computed_value is null then null
        else
            case
                when coalesce(matches_published, false) then 'the 51-cell data support the published value'
                when coalesce(matches_conflicting, false) then 'the 51-cell data support the conflicting value'
                else 'the 51-cell data support neither value'
            end
            || case
                when coalesce(matches_conflicting_47cell, false) and not coalesce(matches_conflicting, false)
                    then '; the conflicting value is the older 47-cell bundle''s (release wave 1)'
                when coalesce(matches_published_47cell, false) and not coalesce(matches_published, false)
                    then '; the published value is the older 47-cell bundle''s (release wave 1)'
                else ''
            end
    end as conflict_resolution,
    inconsistency_item,
    demo_calibrated,
    note
from classified
