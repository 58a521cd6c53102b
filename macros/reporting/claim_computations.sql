{#- The claim computations as data (seeds claim_computations and
    claim_computation_filters, models/reporting/_reporting__models.yml): each
    row names a relation of the ledger, an aggregate from the fixed list below
    and a value column; its filters are (column, operator, value) rows, and-ed.
    This macro reads both seeds when the ledger compiles, checks every field
    against the fixed vocabularies and renders one scalar query per output:

      {'id': claim_id, 'value': sql | none, 'value_47cell': sql | none, 'text': sql | none}

    computes       value            the query on the whole warehouse (computed_value)
                   value_and_47cell the same, and again on the older 47-cell bundle
                                    (computed_value_47cell)
                   value_47cell     a 47-cell query of its own (computed_value_47cell)
                   text             a category (computed_text)
    bundle_filter  how a query is restricted to a bundle: release_wave (whole
                   warehouse: every cell; 47-cell: release_wave = 1) or scope
                   (the statistics tables' scope: all_cells / through_wave_1)
    aggregate      value (the column of the one matching row), count, count_distinct,
                   sum, min, max, avg, max_abs, min_negated, max_negated, median,
                   exact_avg (order-independent mean, macros/marts/numeric.sql),
                   sum_true / pct_true / majority_true (rows where a boolean column
                   holds: their number, their percentage, 1 when at least half of
                   at least one row), flag (1 when the one matching row meets the
                   filters of clause flag, else 0)
    test           optional test_operator and test_threshold_var: the aggregate
                   compared with a dbt var, 1 or 0
    filters        clause where (restricts the rows) or flag (the flag's condition);
                   operator = / in (text values; in: values separated by |),
                   < <= > >= (a number: filter_value or the dbt var filter_var),
                   is_true, is_false, not_null

    Names (relations, columns, vars) must match the fixed lists or
    [a-z][a-z0-9_]*; columns are rendered by sql_identifier, text values by
    sql_string, numbers by sql_number (macros/engine/quoting.sql). Anything
    else stops the compilation with the claim id. -#}
{% macro claim_computations(computations_seed, filters_seed, relations) -%}
  {%- if not execute -%}
    {{ return([]) }}
  {%- endif -%}
  {%- set filter_rows = run_query("select claim_id, computes, clause, filter_column, operator, filter_value, filter_var from "
                                  ~ filters_seed ~ " order by claim_id, computes, clause, filter_column, operator").rows -%}
  {%- set filters = {} -%}
  {%- for f in filter_rows -%}
    {%- set key = f[0] ~ '|' ~ f[1] -%}
    {%- if key not in filters -%}{%- do filters.update({key: []}) -%}{%- endif -%}
    {%- do filters[key].append({'clause': f[2], 'column': f[3], 'operator': f[4], 'value': f[5], 'var': f[6]}) -%}
  {%- endfor -%}
  {%- set rows = run_query("select claim_id, computes, relation, aggregate, value_column, bundle_filter, test_operator, test_threshold_var from "
                           ~ computations_seed ~ " order by claim_id, computes").rows -%}
  {%- set by_id = {} -%}
  {%- set ids = [] -%}
  {%- set used = [] -%}
  {%- for r in rows -%}
    {%- set c = {'claim_id': r[0], 'computes': r[1], 'relation': r[2], 'aggregate': r[3], 'value_column': r[4],
                 'bundle_filter': r[5], 'test_operator': r[6], 'test_threshold_var': r[7]} -%}
    {%- set where = 'claim_computations ' ~ (c.claim_id | string | tojson) ~ ' (' ~ (c.computes | string) ~ '): ' -%}
    {%- if not modules.re.fullmatch('[A-Za-z0-9_]{1,64}', c.claim_id | string) -%}
      {{ exceptions.raise_compiler_error(where ~ 'claim_id is not a ledger id') }}
    {%- endif -%}
    {%- set key = c.claim_id ~ '|' ~ c.computes -%}
    {%- do used.append(key) -%}
    {%- set own = filters.get(key, []) -%}
    {%- if c.claim_id not in by_id -%}
      {%- do by_id.update({c.claim_id: {'id': c.claim_id, 'value': none, 'value_47cell': none, 'text': none}}) -%}
      {%- do ids.append(c.claim_id) -%}
    {%- endif -%}
    {%- set out = by_id[c.claim_id] -%}
    {%- if c.computes in ['value', 'value_and_47cell'] -%}
      {%- set slots = [('value', 'all')] + ([('value_47cell', 'wave_1')] if c.computes == 'value_and_47cell' else []) -%}
    {%- elif c.computes == 'value_47cell' -%}
      {%- set slots = [('value_47cell', 'wave_1')] -%}
    {%- elif c.computes == 'text' -%}
      {%- set slots = [('text', 'all')] -%}
    {%- else -%}
      {{ exceptions.raise_compiler_error(where ~ 'computes is not one of value, value_and_47cell, value_47cell, text') }}
    {%- endif -%}
    {%- if c.computes in ['value_and_47cell', 'value_47cell'] and c.bundle_filter is none -%}
      {{ exceptions.raise_compiler_error(where ~ 'a 47-cell value needs a bundle_filter (release_wave or scope)') }}
    {%- endif -%}
    {%- for slot, bundle in slots -%}
      {%- if out[slot] is not none -%}
        {{ exceptions.raise_compiler_error(where ~ 'a second computation of ' ~ slot) }}
      {%- endif -%}
      {%- do out.update({slot: quant_safety.claim_computation_sql(c, own, bundle, relations, where)}) -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- for key in filters -%}
    {%- if key not in used -%}
      {{ exceptions.raise_compiler_error('claim_computation_filters ' ~ (key | tojson) ~ ': no claim_computations row has this claim_id and computes') }}
    {%- endif -%}
  {%- endfor -%}
  {%- set result = [] -%}
  {%- for claim_id in ids -%}{%- do result.append(by_id[claim_id]) -%}{%- endfor -%}
  {{ return(result) }}
{%- endmacro %}

{#- One scalar query: `select <aggregate> from <relation> where <filters and the bundle's>`. -#}
{% macro claim_computation_sql(c, filters, bundle, relations, where) -%}
  {%- if c.relation not in relations -%}
    {{ exceptions.raise_compiler_error(where ~ 'relation ' ~ (c.relation | string | tojson) ~ ' is not one of ' ~ relations | join(', ')) }}
  {%- endif -%}
  {%- set no_column = ['count', 'flag'] -%}
  {%- set aggregates = ['value', 'count', 'count_distinct', 'sum', 'min', 'max', 'avg', 'max_abs', 'min_negated', 'max_negated',
                        'median', 'exact_avg', 'sum_true', 'pct_true', 'majority_true', 'flag'] -%}
  {%- if c.aggregate not in aggregates -%}
    {{ exceptions.raise_compiler_error(where ~ 'aggregate ' ~ (c.aggregate | string | tojson) ~ ' is not one of ' ~ aggregates | join(', ')) }}
  {%- endif -%}
  {%- if (c.aggregate in no_column) != (c.value_column is none) -%}
    {{ exceptions.raise_compiler_error(where ~ 'aggregate ' ~ c.aggregate ~ (' takes no value_column' if c.aggregate in no_column else ' needs a value_column')) }}
  {%- endif -%}
  {%- set col = none if c.value_column is none else quant_safety.claim_column(c.value_column, where) -%}
  {%- set row_predicates = [] -%}
  {%- set flag_predicates = [] -%}
  {%- for f in filters -%}
    {%- if f.clause == 'where' -%}
      {%- do row_predicates.append(quant_safety.claim_filter_sql(f, where)) -%}
    {%- elif f.clause == 'flag' and c.aggregate == 'flag' -%}
      {%- do flag_predicates.append(quant_safety.claim_filter_sql(f, where)) -%}
    {%- else -%}
      {{ exceptions.raise_compiler_error(where ~ 'filter clause ' ~ (f.clause | string | tojson) ~ ' is not where' ~ (' or flag' if c.aggregate == 'flag' else ' (flag: only with aggregate flag)')) }}
    {%- endif -%}
  {%- endfor -%}
  {%- if c.aggregate == 'flag' and not flag_predicates -%}
    {{ exceptions.raise_compiler_error(where ~ 'aggregate flag needs filters of clause flag') }}
  {%- endif -%}
  {%- if c.bundle_filter == 'release_wave' -%}
    {%- if bundle == 'wave_1' -%}{%- do row_predicates.append(quant_safety.sql_identifier('release_wave') ~ ' = 1') -%}{%- endif -%}
  {%- elif c.bundle_filter == 'scope' -%}
    {%- do row_predicates.append(quant_safety.sql_identifier('scope') ~ ' = '
                                 ~ quant_safety.sql_string('through_wave_1' if bundle == 'wave_1' else 'all_cells')) -%}
  {%- elif c.bundle_filter is not none -%}
    {{ exceptions.raise_compiler_error(where ~ 'bundle_filter ' ~ (c.bundle_filter | string | tojson) ~ ' is not release_wave or scope') }}
  {%- endif -%}
  {%- set true_count = 'sum(case when ' ~ col ~ ' then 1 else 0 end)' -%}
  {%- set expressions = {
      'value': col, 'count': 'count(*)', 'count_distinct': 'count(distinct ' ~ col ~ ')',
      'sum': 'sum(' ~ col ~ ')', 'min': 'min(' ~ col ~ ')', 'max': 'max(' ~ col ~ ')', 'avg': 'avg(' ~ col ~ ')',
      'max_abs': 'max(abs(' ~ col ~ '))', 'min_negated': 'min(-' ~ col ~ ')', 'max_negated': 'max(-' ~ col ~ ')',
      'median': quant_safety.median_of(col), 'exact_avg': quant_safety.exact_avg(col),
      'sum_true': true_count, 'pct_true': '100.0 * ' ~ true_count ~ ' / count(*)',
      'majority_true': 'case when count(*) > 0 and 2 * ' ~ true_count ~ ' >= count(*) then 1 else 0 end',
      'flag': 'case when ' ~ flag_predicates | join(' and ') ~ ' then 1 else 0 end'} -%}
  {%- set expression = expressions[c.aggregate] -%}
  {%- if c.test_operator is not none or c.test_threshold_var is not none -%}
    {%- if c.test_operator not in ['<', '<=', '>', '>='] -%}
      {{ exceptions.raise_compiler_error(where ~ 'test_operator ' ~ (c.test_operator | string | tojson) ~ ' is not one of < <= > >=') }}
    {%- endif -%}
    {%- set expression = 'case when ' ~ expression ~ ' ' ~ c.test_operator ~ ' '
                         ~ quant_safety.claim_var_number(c.test_threshold_var, where) ~ ' then 1 else 0 end' -%}
  {%- endif -%}
  {{ return('select ' ~ expression ~ ' from ' ~ c.relation ~ (' where ' ~ row_predicates | join(' and ') if row_predicates else '')) }}
{%- endmacro %}

{#- One filter row as a predicate. -#}
{% macro claim_filter_sql(f, where) -%}
  {%- set col = quant_safety.claim_column(f.column, where) -%}
  {%- set op = f.operator -%}
  {%- set has_value = f.value is not none -%}
  {%- set has_var = f.var is not none -%}
  {%- if op in ['is_true', 'is_false', 'not_null'] -%}
    {%- if has_value or has_var -%}
      {{ exceptions.raise_compiler_error(where ~ 'filter ' ~ f.column ~ ' ' ~ op ~ ' takes no value') }}
    {%- endif -%}
    {{ return({'is_true': col, 'is_false': 'not ' ~ col, 'not_null': col ~ ' is not null'}[op]) }}
  {%- elif op in ['=', 'in'] -%}
    {%- if not has_value or has_var -%}
      {{ exceptions.raise_compiler_error(where ~ 'filter ' ~ f.column ~ ' ' ~ op ~ ' needs a filter_value (text) and no filter_var') }}
    {%- endif -%}
    {%- if op == '=' -%}
      {{ return(col ~ ' = ' ~ quant_safety.sql_string(f.value)) }}
    {%- endif -%}
    {%- set values = [] -%}
    {%- for v in (f.value | string).split('|') -%}{%- do values.append(quant_safety.sql_string(v)) -%}{%- endfor -%}
    {{ return(col ~ ' in (' ~ values | join(', ') ~ ')') }}
  {%- elif op in ['<', '<=', '>', '>='] -%}
    {%- if has_value == has_var -%}
      {{ exceptions.raise_compiler_error(where ~ 'filter ' ~ f.column ~ ' ' ~ op ~ ' needs a filter_value (a number) or a filter_var, not both') }}
    {%- endif -%}
    {%- if has_var -%}
      {{ return(col ~ ' ' ~ op ~ ' ' ~ quant_safety.claim_var_number(f.var, where)) }}
    {%- endif -%}
    {%- if not modules.re.fullmatch('-?[0-9]+(\\.[0-9]+)?', f.value | string) -%}
      {{ exceptions.raise_compiler_error(where ~ 'filter ' ~ f.column ~ ' ' ~ op ~ ': ' ~ (f.value | string | tojson) ~ ' is not a number') }}
    {%- endif -%}
    {{ return(col ~ ' ' ~ op ~ ' ' ~ (f.value | string)) }}
  {%- else -%}
    {{ exceptions.raise_compiler_error(where ~ 'filter operator ' ~ (op | string | tojson) ~ ' is not one of = in < <= > >= is_true is_false not_null') }}
  {%- endif -%}
{%- endmacro %}

{#- A column name of a claim computation, as a quoted identifier. -#}
{% macro claim_column(name, where) -%}
  {%- if not modules.re.fullmatch('[a-z][a-z0-9_]{0,63}', name | string) -%}
    {{ exceptions.raise_compiler_error(where ~ 'column ' ~ (name | string | tojson) ~ ' is not a column name') }}
  {%- endif -%}
  {{ return(quant_safety.sql_identifier(name)) }}
{%- endmacro %}

{#- A numeric dbt var named by a claim computation (a threshold of dbt_project.yml). -#}
{% macro claim_var_number(name, where) -%}
  {%- if not modules.re.fullmatch('[a-z][a-z0-9_]{0,63}', name | string) or var(name | string, none) is none -%}
    {{ exceptions.raise_compiler_error(where ~ 'var ' ~ (name | string | tojson) ~ ' is not a var of dbt_project.yml') }}
  {%- endif -%}
  {%- set value = var(name | string) -%}
  {%- if value is boolean or value is not number -%}
    {{ exceptions.raise_compiler_error(where ~ 'var ' ~ name ~ ': ' ~ (value | string | tojson) ~ ' is not a number') }}
  {%- endif -%}
  {{ return(quant_safety.sql_number(value, name)) }}
{%- endmacro %}
