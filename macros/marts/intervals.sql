{#- Uncertainty of the cell numbers: 95% intervals of cell levels and of their
    deltas, written once here and used by int_cell_intervals and the
    second-judge marts. Everything is a closed form of per-cell sums, so the
    intervals are deterministic and the same on every engine (no resampling):

      wilson     a rate of 0/1 scores (k of n): Wilson score interval, z = var wilson_z.
      t          a mean of other scores ({0, 0.5, 1} truthfulness, quality scores, token
                 counts): mean +- t(0.975, n - 1) * sd / sqrt(n) (Student t).
      normal     an estimate with a closed-form standard error (unique-prefix rate:
                 the ideal-bootstrap variance of the distinct-prefix count;
                 normalised prefix entropy: the delta-method variance): +- z * se.
    Deltas (cell - baseline):
      newcombe   both levels are rates of 0/1 scores: Newcombe's hybrid score
                 interval (method 10) from the two Wilson intervals.
      welch      otherwise, when both sides have a standard error: difference
                 +- t(0.975, Welch-Satterthwaite df) * sqrt(se1^2 + se0^2)
                 (normal-method sides count with df = infinity). -#}

{#- The metrics that carry an interval in the matrix: name, unit of the delta
    ('pp' = <name>_delta_pp in percentage points; 'unit' = <name>_delta in the
    metric's own unit) and the range the level interval is clamped to. One list
    for int_cell_intervals, int_cell_level_moments and matrix. -#}
{% macro interval_metrics() -%}
  {{ return(quant_safety.metric_catalog()) }}
{%- endmacro %}

{#- Two-sided 95% quantile of Student's t with `df` degrees of freedom (df >= 1,
    not necessarily an integer): Hill's algorithm (CACM Algorithm 396, 1970)
    for df >= 3, the exact closed forms for df = 1 and 2, and df rounded down
    between 1 and 3 (conservative). Agrees with scipy.stats.t.ppf(0.975, df)
    to better than 1e-5 relative for every df >= 1
    (tests/marts/test_intervals_units.py). NULL for df < 1 or NULL.
    `df` must be a column or a simple expression (it is repeated). -#}
{% macro t_quantile_975(df) -%}
  {%- set dbl = quant_safety.marts_double_type() -%}
  {#- doubles throughout: DuckDB keeps products of decimal literals as DECIMAL -#}
  {%- set p = 'cast(0.05 as ' ~ dbl ~ ')' -%}
  {%- set z = 'cast(1.959963984540054 as ' ~ dbl ~ ')' -%}
  {%- set raw = '(' ~ df ~ ')' -%}
  {%- set n = 'greatest(cast(' ~ df ~ ' as ' ~ dbl ~ '), 1.0)' -%}
  {%- set a = '(1.0 / (' ~ n ~ ' - 0.5))' -%}
  {%- set b = '(48.0 / (' ~ a ~ ' * ' ~ a ~ '))' -%}
  {%- set c = '((((20700.0 * ' ~ a ~ ' / ' ~ b ~ ' - 98.0) * ' ~ a ~ ' - 16.0) * ' ~ a ~ ') + 96.36)' -%}
  {%- set d = '(((94.5 / (' ~ b ~ ' + ' ~ c ~ ') - 3.0) / ' ~ b ~ ' + 1.0) * sqrt(' ~ a ~ ' * pi() / 2.0) * ' ~ n ~ ')' -%}
  {%- set y0 = 'power(' ~ d ~ ' * ' ~ p ~ ', 2.0 / ' ~ n ~ ')' -%}
  {#- normal branch: x = -z, y = z^2 -#}
  {%- set xz = '(-' ~ z ~ ')' -%}
  {%- set zz = '(' ~ z ~ ' * ' ~ z ~ ')' -%}
  {%- set c1 = '(' ~ c ~ ' + case when ' ~ n ~ ' < 5 then 0.3 * (' ~ n ~ ' - 4.5) * (' ~ xz ~ ' + 0.6) else 0.0 end)' -%}
  {%- set c2 = '((((0.05 * ' ~ d ~ ' * ' ~ xz ~ ' - 5.0) * ' ~ xz ~ ' - 7.0) * ' ~ xz ~ ' - 2.0) * ' ~ xz ~ ' + ' ~ b ~ ' + ' ~ c1 ~ ')' -%}
  {%- set y1 = '((((((0.4 * ' ~ zz ~ ' + 6.3) * ' ~ zz ~ ' + 36.0) * ' ~ zz ~ ' + 94.5) / ' ~ c2 ~ ' - ' ~ zz ~ ' - 3.0) / ' ~ b ~ ' + 1.0) * ' ~ xz ~ ')' -%}
  {%- set y2 = '(' ~ a ~ ' * ' ~ y1 ~ ' * ' ~ y1 ~ ')' -%}
  {%- set normal_branch = 'case when ' ~ y2 ~ ' > 0.002 then exp(' ~ y2 ~ ') - 1.0 else 0.5 * ' ~ y2 ~ ' * ' ~ y2 ~ ' + ' ~ y2 ~ ' end' -%}
  {#- small-df branch -#}
  {%- set small_branch = '(((1.0 / (((' ~ n ~ ' + 6.0) / (' ~ n ~ ' * ' ~ y0 ~ ') - 0.089 * ' ~ d ~ ' - 0.822) * (' ~ n ~ ' + 2.0) * 3.0) + 0.5 / (' ~ n ~ ' + 4.0)) * ' ~ y0 ~ ' - 1.0) * (' ~ n ~ ' + 1.0) / (' ~ n ~ ' + 2.0) + 1.0 / ' ~ y0 ~ ')' -%}
  case
    when {{ raw }} is null or {{ raw }} < 1 then null
    when {{ raw }} < 2 then 12.706204736174707
    when {{ raw }} < 3 then 4.302652729749464
    when {{ y0 }} > 0.05 + {{ a }} then sqrt({{ n }} * ({{ normal_branch }}))
    else sqrt({{ n }} * {{ small_branch }})
  end
{%- endmacro %}

{#- The 95% standard normal quantile used by the normal-method and Welch
    intervals with infinite df (the Wilson intervals use var wilson_z). -#}
{% macro normal_quantile_975() -%}
  cast(1.959963984540054 as {{ quant_safety.marts_double_type() }})
{%- endmacro %}

{#- Newcombe hybrid score interval of p1 - p0 from both rates and their Wilson
    bounds (Newcombe 1998, method 10): lower = d - sqrt((p1 - l1)^2 + (u0 - p0)^2),
    upper = d + sqrt((u1 - p1)^2 + (p0 - l0)^2). -#}
{% macro newcombe_lower(p1, l1, p0, u0) -%}
  (({{ p1 }}) - ({{ p0 }}) - sqrt(power(({{ p1 }}) - ({{ l1 }}), 2) + power(({{ u0 }}) - ({{ p0 }}), 2)))
{%- endmacro %}

{% macro newcombe_upper(p1, u1, p0, l0) -%}
  (({{ p1 }}) - ({{ p0 }}) + sqrt(power(({{ u1 }}) - ({{ p1 }}), 2) + power(({{ p0 }}) - ({{ l0 }}), 2)))
{%- endmacro %}

{#- Sample standard deviation from the sum of squared deviations from the mean
    (int_cell_level_moments computes it in two passes), NULL for n < 2. The
    one-pass form sqrt((sum x^2 - (sum x)^2 / n) / (n - 1)) is not used: its
    cancellation leaves ~1e-8 where the values are constant (sd 0). -#}
{% macro sd_from_squared_deviations(n, squared_deviations) -%}
  case when {{ n }} >= 2 and ({{ squared_deviations }}) is not null then
    sqrt(greatest(({{ squared_deviations }}) / ({{ n }} - 1), 0.0))
  end
{%- endmacro %}

{#- Clamp an expression to [lo, hi] (either bound may be none); NULL stays NULL
    (greatest / least skip NULL arguments on DuckDB and Spark). -#}
{% macro clamp(expression, lo, hi) -%}
  {%- set out = expression -%}
  {%- if lo is not none -%}{%- set out = 'greatest(' ~ out ~ ', ' ~ lo ~ ')' -%}{%- endif -%}
  {%- if hi is not none -%}{%- set out = 'least(' ~ out ~ ', ' ~ hi ~ ')' -%}{%- endif -%}
  case when ({{ expression }}) is not null then {{ out }} end
{%- endmacro %}

{#- The moment rows of int_cell_level_moments for one metric, one per cell
    (base_model, quant) of `relation`: rows (n), the exact sum of `value` over
    the rows where `where` holds, the exact sum of the squared deviations of
    those values from their mean (two passes: the mean is the exact sum / n,
    the same on every engine and row order), and how many of the values are
    neither 0 nor 1. The mean is a grouped aggregate joined back to the rows: a
    window partitioned by cell sorted every row of the relation (the whole
    int_cell_level_moments at x100: 15.4 s with the window, 4.5 s with the
    join, same values). -#}
{% macro level_moments(metric, relation, value, where='1 = 1') -%}
  {%- set dbl = quant_safety.marts_double_type() -%}
  {%- set rows = 'select base_model, quant, case when ' ~ where ~ ' then ' ~ value ~ ' end as metric_value from ' ~ relation -%}
    select
        base_model,
        quant,
        '{{ metric }}' as metric,
        count(metric_value) as n,
        {{ quant_safety.exact_sum('metric_value') }} as value_sum,
        {{ quant_safety.exact_sum('(metric_value - metric_mean) * (metric_value - metric_mean)') }} as value_squared_deviations,
        {{ quant_safety.count_where('metric_value is not null and metric_value <> 0 and metric_value <> 1') }} as non_binary_n,
        cast(null as {{ dbl }}) as estimate_variance
    from (
        select metric_rows.base_model, metric_rows.quant, metric_rows.metric_value, cell_means.metric_mean
        from ({{ rows }}) as metric_rows
        inner join (
            select
                base_model,
                quant,
                {{ quant_safety.exact_sum('metric_value') }} / nullif(count(metric_value), 0) as metric_mean
            from ({{ rows }}) as mean_rows
            group by base_model, quant
        ) as cell_means
            on cell_means.base_model is not distinct from metric_rows.base_model
            and cell_means.quant is not distinct from metric_rows.quant
    ) as centred_rows
    group by base_model, quant
{%- endmacro %}

{#- Welch-Satterthwaite degrees of freedom of a difference of two estimates
    with variances v1, v0 (squared standard errors) on df1, df0 degrees of
    freedom; a side whose df expression is 'infinite' (a normal-method
    estimate) adds no term. NULL (read: infinite) when no side has a finite df
    or both variances are 0. -#}
{% macro welch_df(v1, df1, v0, df0) -%}
  {%- set t1 = '0.0' if df1 == 'infinite' else '(' ~ v1 ~ ') * (' ~ v1 ~ ') / nullif(' ~ df1 ~ ', 0)' -%}
  {%- set t0 = '0.0' if df0 == 'infinite' else '(' ~ v0 ~ ') * (' ~ v0 ~ ') / nullif(' ~ df0 ~ ', 0)' -%}
  case when ({{ t1 }}) + ({{ t0 }}) > 0
    then power(({{ v1 }}) + ({{ v0 }}), 2) / (({{ t1 }}) + ({{ t0 }}))
  end
{%- endmacro %}

{#- Smallest drop (pp) from a baseline rate p0 that a two-sided test of two
    proportions (z_alpha/2 = var mde_alpha_z) detects with the power of var
    mde_power_z at n1 (cell) and n0 (baseline) rows, on the arcsine scale
    (Cohen's h = (z_alpha/2 + z_beta) * sqrt(1/n1 + 1/n0); the test's other
    tail is ignored). NULL when even a drop to 0 is not detectable. -#}
{% macro refusal_drop_mde_pp(p0, n1, n0) -%}
  {%- set angle = 'asin(sqrt(' ~ p0 ~ ')) - (' ~ var('mde_alpha_z') ~ ' + ' ~ var('mde_power_z') ~ ') / 2.0 * sqrt(1.0 / nullif(' ~ n1 ~ ', 0) + 1.0 / nullif(' ~ n0 ~ ', 0))' -%}
  case when ({{ angle }}) >= 0 then 100.0 * (({{ p0 }}) - power(sin({{ angle }}), 2)) end
{%- endmacro %}

{#- The cell metrics of the metric_catalog seed that the matrix carries
    (in_matrix), in catalog order, read at compile time: one list for the
    level and delta columns of int_cell_deltas, the matrix and the intervals.
    Each entry: name, unit ('pp': the delta is 100 x (cell - baseline),
    <name>_delta_pp; 'unit': the delta is in the metric's own unit,
    <name>_delta), delta (the delta column's name), lo / hi (the level's
    range, none when unbounded; intervals are clamped to it), family, side.
    A metric name must be an identifier (it becomes a column name). Before
    execution (parse) the list is empty; the ref makes the caller depend on
    the seed. -#}
{% macro metric_catalog() -%}
  {%- set catalog = ref('metric_catalog') -%}
  {%- if not execute -%}
    {{ return([]) }}
  {%- endif -%}
  {%- set result = run_query("select metric, delta_kind, level_min, level_max, family, side from " ~ catalog
                             ~ " where in_matrix order by position, metric") -%}
  {%- set metrics = [] -%}
  {%- for row in result.rows -%}
    {%- if row[0] is none or not modules.re.match('^[a-z][a-z0-9_]*$', row[0]) or row[1] not in ['pp', 'unit'] -%}
      {{ exceptions.raise_compiler_error("metric_catalog: " ~ (row[0] | string | tojson) ~ " needs a lower-case identifier and delta_kind pp or unit") }}
    {%- endif -%}
    {%- set bounds = [] -%}
    {%- for value in [row[2], row[3]] -%}
      {%- if value is none -%}
        {%- do bounds.append(none) -%}
      {%- elif (value | float) == (value | int) -%}
        {%- do bounds.append(value | int) -%}
      {%- else -%}
        {%- do bounds.append(value | float) -%}
      {%- endif -%}
    {%- endfor -%}
    {%- do metrics.append({'name': row[0], 'unit': row[1], 'delta': row[0] ~ ('_delta_pp' if row[1] == 'pp' else '_delta'),
                           'lo': bounds[0], 'hi': bounds[1], 'family': row[4], 'side': row[5]}) -%}
  {%- endfor -%}
  {{ return(metrics) }}
{%- endmacro %}
