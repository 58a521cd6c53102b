{#- The matrix columns that carry a quantity the report itself defines (TR142
    v3 Metric Definitions, SS5, SS7, SS10, SS14, SS20, Tables 3/6/10): identity,
    the nine quality / regex / judge levels with their rows and deltas, gap,
    regime, asymmetry, deployment action, the Phase 6 features and flags and
    the failure-mode flags. The report's matrix.csv (51 x 83) is not published,
    so which 83 it held is unknown; every other matrix column is a warehouse
    addition (docs/interfaces.md "Cell matrix"). Used by the claim ledger (MTX_002). -#}
{% macro report_matrix_columns() -%}
  {%- set levels = ['quality_bertscore', 'quality_rouge_l', 'quality_coherence',
                    'safety_refusal_rate', 'safety_truthfulness', 'safety_bias_resistance',
                    'judge_refusal_rate', 'judge_truthfulness', 'judge_bias_resistance'] -%}
  {%- set features = ['advbench_refusal_rate', 'dominant_prefix_share', 'unique_prefix_rate', 'prefix_entropy_norm',
                      'mean_tokens_refusal', 'mean_chars_refusal', 'hard_refusal_rate'] -%}
  {%- set out = ['base_model', 'family', 'quant', 'format', 'bpw', 'baseline_quant', 'is_baseline',
                 'quality_n', 'safety_refusal_rate_n', 'safety_truthfulness_n', 'safety_bias_resistance_n'] -%}
  {%- for l in levels -%}{%- do out.extend([l, l ~ '_delta_pp']) -%}{%- endfor -%}
  {%- do out.extend(['regex_judge_refusal_gap_pp', 'measurement_divergence', 'regime', 'asymmetry_ratio',
                     'safety_faster', 'deployment_action']) -%}
  {%- for f in features -%}{%- do out.extend([f, f ~ '_delta']) -%}{%- endfor -%}
  {%- do out.extend(['template_destabilization', 'verbosity_shift',
                     'tax_002_flag', 'tax_003_flag', 'tax_004_flag', 'tax_005_flag', 'tax_006_flag']) -%}
  {{ return(out) }}
{%- endmacro %}
