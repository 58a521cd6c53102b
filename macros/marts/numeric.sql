{#- Small numeric helpers of the cell marts. Plain-ANSI ones have a default__
    implementation; engine-specific ones are dispatched. -#}

{#- Natural logarithm. -#}
{% macro natural_log(x) -%}
  {{ return(adapter.dispatch('natural_log', 'quant_safety')(x)) }}
{%- endmacro %}

{% macro default__natural_log(x) -%}
  ln({{ x }})
{%- endmacro %}

{#- Median of a column inside a group by (aggregate). -#}
{% macro median_of(x) -%}
  {{ return(adapter.dispatch('median_of', 'quant_safety')(x)) }}
{%- endmacro %}

{% macro default__median_of(x) -%}
  percentile_cont(0.5) within group (order by {{ x }})
{%- endmacro %}

{% macro duckdb__median_of(x) -%}
  median({{ x }})
{%- endmacro %}

{% macro spark__median_of(x) -%}
  percentile({{ x }}, 0.5)
{%- endmacro %}

{#- IEEE positive infinity as a double (asymmetry ratio when the BERTScore delta is 0). -#}
{% macro positive_infinity() -%}
  {{ return(adapter.dispatch('positive_infinity', 'quant_safety')()) }}
{%- endmacro %}

{% macro default__positive_infinity() -%}
  cast('Infinity' as {{ quant_safety.marts_double_type() }})
{%- endmacro %}

{% macro duckdb__positive_infinity() -%}
  cast('inf' as double)
{%- endmacro %}

{#- A value that is in [0, 1] by definition, clamped there: floating-point
    arithmetic (a ratio of logarithms, a rounded sum) can land it an ulp outside,
    and a range test must hold for every valid input. NULL stays NULL. -#}
{% macro clamp_unit(x) -%}
  case when ({{ x }}) < 0 then 0.0 when ({{ x }}) > 1 then 1.0 else ({{ x }}) end
{%- endmacro %}

{#- Difference of a cell level and its baseline level in percentage points,
    rounded (var delta_pp_round_decimals) so that exact ratios such as -22/220
    compare exactly against the thresholds. -#}
{% macro delta_pp(cell_expr, baseline_expr) -%}
  round(100.0 * ({{ cell_expr }} - {{ baseline_expr }}), {{ var('delta_pp_round_decimals') }})
{%- endmacro %}

{#- Difference in the metric's own unit (fractions, tokens), rounded likewise. -#}
{% macro delta_units(cell_expr, baseline_expr) -%}
  round({{ cell_expr }} - {{ baseline_expr }}, {{ var('delta_round_decimals') }})
{%- endmacro %}

{#- Wilson score interval of a rate p over n trials, z = var wilson_z. -#}
{% macro wilson_lower(p, n) -%}
  {%- set z = var('wilson_z') -%}
  case when {{ n }} > 0 then
    (({{ p }}) + {{ z }} * {{ z }} / (2.0 * {{ n }})
      - {{ z }} * sqrt(({{ p }}) * (1 - ({{ p }})) / {{ n }} + {{ z }} * {{ z }} / (4.0 * {{ n }} * {{ n }})))
    / (1 + {{ z }} * {{ z }} / {{ n }})
  end
{%- endmacro %}

{% macro wilson_upper(p, n) -%}
  {%- set z = var('wilson_z') -%}
  case when {{ n }} > 0 then
    (({{ p }}) + {{ z }} * {{ z }} / (2.0 * {{ n }})
      + {{ z }} * sqrt(({{ p }}) * (1 - ({{ p }})) / {{ n }} + {{ z }} * {{ z }} / (4.0 * {{ n }} * {{ n }})))
    / (1 + {{ z }} * {{ z }} / {{ n }})
  end
{%- endmacro %}

{#- 64-bit floating point type (dbt.type_float() is a 32-bit FLOAT on DuckDB). -#}
{% macro marts_double_type() -%}
  {{ return(adapter.dispatch('marts_double_type', 'quant_safety')()) }}
{%- endmacro %}

{% macro default__marts_double_type() -%}
  double precision
{%- endmacro %}

{% macro duckdb__marts_double_type() -%}
  double
{%- endmacro %}

{% macro spark__marts_double_type() -%}
  double
{%- endmacro %}

{#- A statistics table (models/stats). Where the dbt Python models run (var
    python_stats_models, default: every target but plain Spark) it is their
    ref(); otherwise the table the build's statistics step wrote into the
    target schema (quant_safety.stats_step), so build claim_ledger after it. -#}
{% macro stats_ref(name) -%}
  {%- if var('python_stats_models', target.type != 'spark') | as_bool -%}
    {{ return(ref(name)) }}
  {%- else -%}
    {{ return(this.incorporate(path={'identifier': name})) }}
  {%- endif -%}
{%- endmacro %}

{#- Order-independent sum / mean of a double expression. A parallel
    floating-point sum depends on the order rows arrive in, so two builds of the
    same inputs could differ in the last bits (and so would everything computed
    from the cells). Summing DECIMAL(38, 18) values is exact, hence the same
    whatever the order; the result is cast back to double. -#}
{% macro exact_sum(expression) -%}
  cast(sum(cast({{ expression }} as decimal(38, 18))) as {{ quant_safety.marts_double_type() }})
{%- endmacro %}

{% macro exact_avg(expression) -%}
  ({{ quant_safety.exact_sum(expression) }} / nullif(count({{ expression }}), 0))
{%- endmacro %}

{#- Number of rows where `condition` holds, as BIGINT on every engine (DuckDB's
    sum of integers is HUGEINT, Spark's BIGINT; the bundle and report must not
    depend on the engine). -#}
{% macro count_where(condition) -%}
  cast(sum(case when {{ condition }} then 1 else 0 end) as {{ dbt.type_bigint() }})
{%- endmacro %}
