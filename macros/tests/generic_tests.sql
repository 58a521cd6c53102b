{#- Small generic tests (no dbt hub packages here). -#}

{#- No two rows share the same values of the given columns. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as duplicate_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Every row satisfies a SQL boolean expression (NULL counts as failure unless allow_null). -#}
{% test expression_is_true(model, expression, allow_null=false) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), {{ 'true' if allow_null else 'false' }})
{% endtest %}

{#- Every data check of one model (seed, source) in one test node: a dbt test node
    costs ~50 ms of dbt overhead whatever its query, and a build ran ~320 of them, most
    a predicate on each row or a key. checks is a list; each entry is one of
      {not_null: [column, ...]}                        the columns are never NULL
      {column: c, min_value: x, max_value: y}          x <= c <= y, either bound optional
                                                       (NULL passes; combine with not_null)
      {column: c, accepted_values: [v, ...]}           c is one of the values (NULL passes,
                                                       as in dbt's accepted_values); with
                                                       quote: false numbers and booleans
                                                       are compared unquoted
      {expression: "<sql boolean>"}                    true on every row (NULL fails unless
                                                       allow_null: true)
      {column: c, null_exactly_when: "<sql boolean>"}  c is NULL exactly when the condition
                                                       holds (a NULL condition counts as false)
      {column: c, inside_interval: {lower: l, upper: u}}
                                                       l <= c <= u within 1e-12, l and u
                                                       columns (NULL passes): a rate inside
                                                       its confidence interval
      {unique: [column, ...]}                          no two rows share the values of the
                                                       columns (NULLs count as equal values)
      {column: c, relationships: {to: "ref('m')", field: f}}
                                                       every non-NULL c is a value of f in m
                                                       (dbt's relationships)
      {has_row_in: "ref('m')", columns: [c, ...]}      every row has a row of m with the same
                                                       values of the columns (a NULL matches
                                                       nothing)
    The row-wise checks run as one scan (one sum(case ...) per check); each key or
    relation check is one grouped or joined query of the same node. Values become SQL
    literals only through quant_safety.sql_string / sql_number; an unknown key or an
    entry without a check stops the compilation. One row per failing check:
    check_kind, column_name (the column, the columns joined by ', ', or the
    expression), problem, failing_rows (for unique: the rows sharing their key with
    another row), and the lowest and highest failing value (for unique, relationships
    and has_row_in the key as text, columns joined by ', '; NULL for an expression and
    for not_null). Zero
    rows: every check holds. Only tests of the same config share a node: a check with
    its own severity or where is a test of its own. -#}
{% test row_checks(model, checks) %}
{%- set found = [] %}
{%- set keys_of = {'not_null': ['not_null'], 'expression': ['allow_null', 'expression'],
    'accepted_values': ['accepted_values', 'column', 'quote'], 'null_exactly_when': ['column', 'null_exactly_when'],
    'inside_interval': ['column', 'inside_interval'], 'unique': ['unique'],
    'relationships': ['column', 'relationships'], 'has_row_in': ['columns', 'has_row_in'],
    'between': ['column', 'max_value', 'min_value']} %}
{%- for check in checks %}
    {%- set kind = (keys_of.keys() | select('in', check) | first) or 'between' %}
    {%- for key in check.keys() | list | sort if key not in keys_of[kind] %}
        {{ exceptions.raise_compiler_error("row_checks: " ~ (check | string) ~ ": unknown key " ~ key) }}
    {%- endfor %}
    {%- if kind == 'not_null' %}
        {%- for column in check['not_null'] %}
            {%- do found.append({'kind': 'not_null', 'column': column, 'problem': 'is null',
                'fails': column ~ ' is null', 'value': none}) %}
        {%- endfor %}
    {%- elif kind == 'expression' %}
        {%- set allow_null = check.get('allow_null', false) %}
        {%- do found.append({'kind': 'expression', 'column': check.expression,
            'problem': 'is false' if allow_null else 'is false or null',
            'fails': 'not coalesce((' ~ check.expression ~ '), ' ~ ('true' if allow_null else 'false') ~ ')',
            'value': none}) %}
    {%- elif kind == 'accepted_values' %}
        {%- set literals = [] %}
        {%- for value in check.accepted_values %}
            {%- if check.get('quote', true) %}
                {%- do literals.append(quant_safety.sql_string(value)) %}
            {%- elif value is boolean %}
                {%- do literals.append('true' if value else 'false') %}
            {%- else %}
                {%- do literals.append(quant_safety.sql_number(value, check.column ~ ' accepted value')) %}
            {%- endif %}
        {%- endfor %}
        {%- do found.append({'kind': 'accepted_values', 'column': check.column,
            'problem': 'not in (' ~ literals | join(', ') ~ ')',
            'fails': check.column ~ ' not in (' ~ literals | join(', ') ~ ')', 'value': check.column}) %}
    {%- elif kind == 'null_exactly_when' %}
        {%- do found.append({'kind': 'null_exactly_when', 'column': check.column,
            'problem': '(is null) <> (' ~ check.null_exactly_when ~ ')',
            'fails': '(' ~ check.column ~ ' is null) <> coalesce((' ~ check.null_exactly_when ~ '), false)',
            'value': check.column}) %}
    {%- elif kind == 'inside_interval' %}
        {%- set c = check.column %}
        {%- set lower = check.inside_interval.lower %}
        {%- set upper = check.inside_interval.upper %}
        {%- do found.append({'kind': 'inside_interval', 'column': c,
            'problem': 'outside [' ~ lower ~ ', ' ~ upper ~ ']',
            'fails': c ~ ' is not null and (' ~ lower ~ ' > ' ~ c ~ ' + 1e-12 or ' ~ upper ~ ' < ' ~ c ~ ' - 1e-12)',
            'value': c}) %}
    {%- elif kind == 'unique' %}
        {%- set columns = check['unique'] %}
        {%- if columns is string or columns | length == 0 %}
            {{ exceptions.raise_compiler_error("row_checks: " ~ (check | string) ~ ": unique takes a list of columns") }}
        {%- endif %}
        {%- do found.append({'kind': 'unique', 'column': columns | join(', '), 'problem': 'duplicated',
            'columns': columns, 'set': true}) %}
    {%- elif kind == 'relationships' %}
        {%- set to = check.relationships.get('to') %}
        {%- set field = check.relationships.get('field') %}
        {%- if to is none or field is none or check.relationships.keys() | list | length != 2 %}
            {{ exceptions.raise_compiler_error("row_checks: " ~ (check | string) ~ ": relationships takes to and field") }}
        {%- endif %}
        {%- do found.append({'kind': 'relationships', 'column': check.column,
            'problem': 'not a value of ' ~ to ~ '.' ~ field, 'to': to, 'columns': [check.column],
            'parent_columns': [field], 'skip_nulls': true, 'set': true}) %}
    {%- elif kind == 'has_row_in' %}
        {%- set columns = check.get('columns') %}
        {%- if columns is none or columns is string or columns | length == 0 %}
            {{ exceptions.raise_compiler_error("row_checks: " ~ (check | string) ~ ": has_row_in takes a list of columns") }}
        {%- endif %}
        {%- do found.append({'kind': 'has_row_in', 'column': columns | join(', '),
            'problem': 'no row in ' ~ check.has_row_in, 'to': check.has_row_in, 'columns': columns,
            'parent_columns': columns, 'skip_nulls': false, 'set': true}) %}
    {%- else %}
        {%- set c = check.column %}
        {%- set lo = check.get('min_value') %}
        {%- set hi = check.get('max_value') %}
        {%- if lo is none and hi is none %}
            {{ exceptions.raise_compiler_error("row_checks: " ~ (check | string) ~ " has no check (min_value / max_value, ...)") }}
        {%- endif %}
        {%- set outside = [] %}
        {%- if lo is not none %}{% do outside.append(c ~ ' < ' ~ quant_safety.sql_number(lo, c ~ ' min_value')) %}{% endif %}
        {%- if hi is not none %}{% do outside.append(c ~ ' > ' ~ quant_safety.sql_number(hi, c ~ ' max_value')) %}{% endif %}
        {%- do found.append({'kind': 'between', 'column': c,
            'problem': 'outside [' ~ ('' if lo is none else lo) ~ ', ' ~ ('' if hi is none else hi) ~ ']',
            'fails': c ~ ' is not null and (' ~ outside | join(' or ') ~ ')', 'value': c}) %}
    {%- endif %}
{%- endfor %}
{%- if found | length == 0 %}
    {{ exceptions.raise_compiler_error("row_checks: no check given") }}
{%- endif %}
{%- set row_wise = found | rejectattr('set') | list %}
{%- set text = dbt.type_string() %}
with
{%- if row_wise %}
counts as (
    select
    {%- for check in found if not check.set %}
        sum(case when {{ check.fails }} then 1 else 0 end) as failing_{{ loop.index }},
        {%- if check.value is none %}
        cast(null as {{ text }}) as lowest_{{ loop.index }},
        cast(null as {{ text }}) as highest_{{ loop.index }}{{ "," if not loop.last }}
        {%- else %}
        cast(min(case when {{ check.fails }} then {{ check.value }} end) as {{ text }}) as lowest_{{ loop.index }},
        cast(max(case when {{ check.fails }} then {{ check.value }} end) as {{ text }}) as highest_{{ loop.index }}{{ "," if not loop.last }}
        {%- endif %}
    {%- endfor %}
    from {{ model }}
),
{%- endif %}
{%- for check in found if check.set %}
{%- if check.kind == 'unique' %}
set_{{ loop.index }} as (
    select
        sum(duplicate_rows) as failing_rows,
        min(key_value) as lowest_failing_value,
        max(key_value) as highest_failing_value
    from (
        select {{ quant_safety.row_checks_key(check.columns) }} as key_value, count(*) as duplicate_rows
        from {{ model }}
        group by {{ check.columns | join(', ') }}
        having count(*) > 1
    ) as duplicated
),
{%- else %}
{#- relationships and has_row_in: the rows without a parent row (an anti-join) #}
set_{{ loop.index }} as (
    select
        count(*) as failing_rows,
        min({{ quant_safety.row_checks_key(check.columns, 'src.') }}) as lowest_failing_value,
        max({{ quant_safety.row_checks_key(check.columns, 'src.') }}) as highest_failing_value
    from {{ model }} as src
    left join (
        select distinct {% for p in check.parent_columns %}{{ p }} as parent_{{ loop.index }}{{ ", " if not loop.last }}{% endfor %}
        from {{ check.to }}
    ) as dst
        on {% for c in check.columns %}src.{{ c }} = dst.parent_{{ loop.index }}{{ " and " if not loop.last }}{% endfor %}
    where dst.parent_1 is null
    {%- if check.skip_nulls %}
        {%- for c in check.columns %} and src.{{ c }} is not null{% endfor %}
    {%- endif %}
),
{%- endif %}
{%- endfor %}
failing as (
{%- for check in found if not check.set %}
    select
        {{ quant_safety.sql_string(check.kind) }} as check_kind,
        {{ quant_safety.sql_string(check.column) }} as column_name,
        {{ quant_safety.sql_string(check.problem) }} as problem,
        cast(failing_{{ loop.index }} as bigint) as failing_rows,
        lowest_{{ loop.index }} as lowest_failing_value,
        highest_{{ loop.index }} as highest_failing_value
    from counts
    union all
{%- endfor %}
{%- for check in found if check.set %}
    select
        {{ quant_safety.sql_string(check.kind) }} as check_kind,
        {{ quant_safety.sql_string(check.column) }} as column_name,
        {{ quant_safety.sql_string(check.problem) }} as problem,
        cast(failing_rows as bigint) as failing_rows,
        lowest_failing_value,
        highest_failing_value
    from set_{{ loop.index }}
    {%- if not loop.last %}
    union all
    {%- endif %}
{%- endfor %}
{%- if not (found | selectattr('set') | list) %}
    select
        cast(null as {{ text }}) as check_kind, cast(null as {{ text }}) as column_name,
        cast(null as {{ text }}) as problem, cast(0 as bigint) as failing_rows,
        cast(null as {{ text }}) as lowest_failing_value, cast(null as {{ text }}) as highest_failing_value
    from counts where 1 = 0
{%- endif %}
)
select * from failing where failing_rows > 0
{% endtest %}

{#- row_checks: the values of key columns as one text, ', ' between them (NULL as null). -#}
{% macro row_checks_key(columns, prefix='') -%}
{%- for c in columns -%}
coalesce(cast({{ prefix }}{{ c }} as {{ dbt.type_string() }}), 'null'){% if not loop.last %} || ', ' || {% endif %}
{%- endfor -%}
{%- endmacro %}

{#- A raw source (one record kind) holds exactly the lockfile's files of its kind,
    each with the locked line count (expected_raw_rows) and sha256 where the
    lockfile has them: the files missing from the source, the source rows the
    lockfile does not name, and every count or hash that differs. -#}
{% test matches_lockfile(model, record_kind) %}
with lockfile as (
    select source_label, expected_raw_rows, sha256
    from {{ ref('source_manifest') }}
    where record_kind = {{ quant_safety.sql_string(record_kind) }}
)
select
    coalesce(lockfile.source_label, raw_file.source_label) as source_label,
    case
        when raw_file.source_label is null then 'in the lockfile, not in the source'
        when lockfile.source_label is null then 'in the source, not a lockfile file of this kind'
        when lockfile.expected_raw_rows is not null and raw_file.raw_lines <> lockfile.expected_raw_rows
            then 'raw lines ' || cast(raw_file.raw_lines as {{ dbt.type_string() }}) || ', the lockfile expects '
                || cast(lockfile.expected_raw_rows as {{ dbt.type_string() }})
        else 'sha256 differs from the lockfile'
    end as problem
from lockfile
full outer join {{ model }} as raw_file
    on raw_file.source_label = lockfile.source_label
where raw_file.source_label is null
   or lockfile.source_label is null
   or (lockfile.expected_raw_rows is not null and raw_file.raw_lines <> lockfile.expected_raw_rows)
   or (coalesce(lockfile.sha256, '') <> '' and raw_file.sha256 <> lockfile.sha256)
{% endtest %}

{#- A per-kind line status model (audit_<kind>__lines): no two loaded lines
    share a key (base_model, quant, task_name, sample_id). per_source_when_pool:
    under judge_dedupe_mode pool every judge source keeps its own lines, so the
    key is unique within a source only. -#}
{% test unique_loaded_key(model, per_source_when_pool=false) %}
{%- set key_columns = ['base_model', 'quant', 'task_name', 'sample_id']
    + (['source_label'] if per_source_when_pool and var('judge_dedupe_mode') == 'pool' else []) %}
select {{ key_columns | join(', ') }}, count(*) as loaded_lines
from {{ model }}
where load_status = 'loaded'
group by {{ key_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- A per-kind line status model holds exactly one row per raw line of every
    audited file of its record kind: per source, rows = the audit's raw line
    count (a missing file has none). -#}
{% test lines_reconcile(model, record_kind) %}
with audited as (
    select source_label, actual_raw_lines
    from {{ ref('audit_sources') }}
    where record_kind = {{ quant_safety.sql_string(record_kind) }}
),

counted as (
    select source_label, count(*) as status_rows
    from {{ model }}
    group by source_label
)

select
    coalesce(audited.source_label, counted.source_label) as source_label,
    audited.actual_raw_lines,
    counted.status_rows
from audited
full outer join counted
    on counted.source_label = audited.source_label
where coalesce(audited.actual_raw_lines, 0) <> coalesce(counted.status_rows, 0)
{% endtest %}
