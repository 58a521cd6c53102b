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

{#- Every row-wise check of one model (seed, source) in one test node and one scan:
    a dbt test node costs ~50 ms of dbt overhead whatever its query, and a build ran
    ~320 of them, most a predicate on each row. checks is a list; each entry is one of
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
    Values become SQL literals only through quant_safety.sql_string / sql_number; an
    unknown key or an entry without a check stops the compilation. One row per failing
    check: check_kind, column_name (the column, or the expression), problem,
    failing_rows, and the lowest and highest failing value of the column (NULL for an
    expression and for not_null). Zero rows: every check holds. Only tests of the same
    config share a node: a check with its own severity or where is a test of its own. -#}
{% test row_checks(model, checks) %}
{%- set found = [] %}
{%- set keys_of = {'not_null': ['not_null'], 'expression': ['allow_null', 'expression'],
    'accepted_values': ['accepted_values', 'column', 'quote'], 'null_exactly_when': ['column', 'null_exactly_when'],
    'inside_interval': ['column', 'inside_interval'], 'between': ['column', 'max_value', 'min_value']} %}
{%- for check in checks %}
    {%- set kind = (keys_of.keys() | select('in', check) | first) or 'between' %}
    {%- for key in check.keys() | list | sort if key not in keys_of[kind] %}
        {{ exceptions.raise_compiler_error("row_checks: " ~ (check | tojson) ~ ": unknown key " ~ key) }}
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
    {%- else %}
        {%- set c = check.column %}
        {%- set lo = check.get('min_value') %}
        {%- set hi = check.get('max_value') %}
        {%- if lo is none and hi is none %}
            {{ exceptions.raise_compiler_error("row_checks: " ~ (check | tojson) ~ " has no check (min_value / max_value, ...)") }}
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
with counts as (
    select
    {%- for check in found %}
        sum(case when {{ check.fails }} then 1 else 0 end) as failing_{{ loop.index }},
        {%- if check.value is none %}
        null as lowest_{{ loop.index }},
        null as highest_{{ loop.index }}{{ "," if not loop.last }}
        {%- else %}
        min(case when {{ check.fails }} then {{ check.value }} end) as lowest_{{ loop.index }},
        max(case when {{ check.fails }} then {{ check.value }} end) as highest_{{ loop.index }}{{ "," if not loop.last }}
        {%- endif %}
    {%- endfor %}
    from {{ model }}
)
{%- for check in found %}
select
    {{ quant_safety.sql_string(check.kind) }} as check_kind,
    {{ quant_safety.sql_string(check.column) }} as column_name,
    {{ quant_safety.sql_string(check.problem) }} as problem,
    failing_{{ loop.index }} as failing_rows,
    cast(lowest_{{ loop.index }} as {{ dbt.type_string() }}) as lowest_failing_value,
    cast(highest_{{ loop.index }} as {{ dbt.type_string() }}) as highest_failing_value
from counts where failing_{{ loop.index }} > 0
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{% endtest %}

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
