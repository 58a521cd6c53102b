{#- The contract ladder of one record kind, driven by a spec (the base_<kind>__lines
    models hold one each). A spec:
      record_kind - the manifest's record kind (which files are read)
      parse       - the fields read from each line (json_struct spec: 'JSON' leaves
                    or nested objects; a 'JSON' leaf that is itself read further is
                    named in `nested`)
      nested      - {field: spec}: a parsed fragment read as an object of its own
                    (metrics: its node kind and its leaves come from the one parse)
      fields      - [column, path, type(, options)] in output order. path 'a|b': the
                    fragment at a when its JSON kind is the type's, else b. types:
                    string, label (upper-cased and trimmed string), number, boolean,
                    kind (the JSON kind of the fragment), task_role (the catalog's),
                    shape (path is {'absent': f, 'string': f, 'present': f}).
                    options.unwrap: an object fragment is read at that key ({"score": x}).
      tasks       - {'record_kind': k, 'exclude_role': r}: the task catalog lookup
      checks      - the ladder after the line-level checks, in order:
                    {'accept_when': column}, {'require': name, 'path': p, 'unless_string': q},
                    {'known_task': true}, {'object': column, 'name': n},
                    {'value': column, 'type': t, 'name': n, 'required': b, 'nonfinite': b, 'range': b},
                    {'label': column, 'prefix': text}
    Problem strings and their order are the contract's (docs/raw-logs.md): a
    quarantine reason is user-visible. -#}

{#- The whole model body: parse (macros/ingest/raw_files.sql parse_json_lines),
    typed fragments, problem ladder, output columns. -#}
{% macro contract_lines(spec) -%}
{%- set key_spec = dict(spec.parse) %}
{%- do key_spec.update(spec.nested or {}) %}
with {{ quant_safety.parse_json_lines(spec.record_kind, spec.parse, key_spec) }},

nested as (
    select
        *
        {%- for name, nested_spec in (spec.nested or {}).items() %},
        case when {{ quant_safety.json_kind('rec.' ~ name) }} = 'object'
            then {{ quant_safety.json_fragment_struct('rec.' ~ name, nested_spec) }} end as {{ name }}_rec
        {%- endfor %}
    from parsed
),

fragments as (
    select
        *
        {%- for field in spec.fields if quant_safety.contract_needs_fragment(field) %},
        {{ quant_safety.contract_fragment_sql(field, spec) }} as {{ field[0] }}_fragment
        {%- endfor %}
    from nested
),

typed as (
    select
        source_label,
        file_sha256,
        source_line,
        raw_line,
        is_valid_json,
        line_kind,
        had_nonfinite_token,
        line_problem
        {%- for field in spec.fields if field[2] != 'task_role' %},
        {{ quant_safety.contract_field_sql(field, spec) }} as {{ field[0] }}
        {%- endfor %}
        {%- for check in spec.checks if check.require %},
        {{ quant_safety.contract_require_sql(check, spec) }} as {{ check.require }}_problem
        {%- endfor %}
    from fragments
),

{%- set ranged = spec.checks | selectattr('range') | map(attribute='value') | list %}
{%- if ranged %}

ranges as (
    select
        {%- for column in ranged %}
        max(case when field = {{ quant_safety.sql_string(column) }} then min_value end) as {{ column }}_min,
        max(case when field = {{ quant_safety.sql_string(column) }} then max_value end) as {{ column }}_max{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref('metric_ranges') }}
    where record_kind = {{ quant_safety.sql_string(spec.record_kind) }}
),
{%- endif %}

checked as (
    select
        typed.*,
        tasks.task_role,
        {{ quant_safety.contract_ladder(spec) }} as parse_problem
    from typed
    {%- if ranged %}
    cross join ranges
    {%- endif %}
    left join (
        select distinct task_name, task_role
        from {{ ref('task_catalog') }}
        where record_kind = {{ quant_safety.sql_string(spec.tasks.record_kind) }}
        {%- if spec.tasks.exclude_role %}
            and task_role <> {{ quant_safety.sql_string(spec.tasks.exclude_role) }}
        {%- endif %}
    ) as tasks
        on tasks.task_name = typed.task_name
    {%- for check in spec.checks if check.label %}
    left join {{ ref('judge_labels') }} as {{ check.label }}_vocabulary
        on {{ check.label }}_vocabulary.task_role = tasks.task_role
        and {{ check.label }}_vocabulary.judge_label = typed.{{ check.label }}
    {%- endfor %}
)

select
    source_label,
    file_sha256,
    source_line,
    {%- for field in spec.fields if field[2] != 'kind' %}
    {{ field[0] }},
    {%- endfor %}
    had_nonfinite_token,
    parse_problem,
    {{ quant_safety.raw_line_preview('parse_problem', 'raw_line') }} as raw_line_preview
from checked
{%- endmacro %}

{#- A field whose fragment is computed once (a fallback path or an unwrapped
    object), so that the typed extraction does not repeat it. -#}
{% macro contract_needs_fragment(field) -%}
  {{ return('|' in (field[1] | string) or (field | length > 3 and field[3].unwrap)) }}
{%- endmacro %}

{#- The JSON kind a field type reads. -#}
{% macro contract_type_kind(type) -%}
  {{ return({'string': 'string', 'label': 'string', 'number': 'number', 'boolean': 'boolean'}.get(type, 'string')) }}
{%- endmacro %}

{#- The fragment at a spec path: rec.<path>, or <nested>_rec.<leaf> for a path
    into a nested object. -#}
{% macro contract_path_sql(path, spec) -%}
  {%- set head = path.split('.')[0] -%}
  {%- if '.' in path and head in (spec.nested or {}) -%}
    {{ return(head ~ '_rec.' ~ path.split('.', 1)[1]) }}
  {%- endif -%}
  {{ return('rec.' ~ path) }}
{%- endmacro %}

{% macro contract_fragment_sql(field, spec) -%}
  {%- set paths = field[1].split('|') -%}
  {%- set fragment = quant_safety.contract_path_sql(paths[0], spec) -%}
  {%- if paths | length > 1 -%}
    case when {{ quant_safety.json_kind(fragment) }} = '{{ quant_safety.contract_type_kind(field[2]) }}'
      then {{ fragment }} else {{ quant_safety.contract_path_sql(paths[1], spec) }} end
  {%- else -%}
    case when {{ quant_safety.json_kind(fragment) }} = 'object'
      then {{ quant_safety.json_child(fragment, '$.' ~ field[3].unwrap) }} else {{ fragment }} end
  {%- endif -%}
{%- endmacro %}

{#- The fragment a field reads; path '@<column>': the fragment of that field. -#}
{% macro contract_field_fragment(field, spec) -%}
  {%- if (field[1] | string).startswith('@') -%}
    {%- for other in spec.fields if other[0] == field[1][1:] -%}
      {{ return(quant_safety.contract_field_fragment(other, spec)) }}
    {%- endfor -%}
  {%- endif -%}
  {{ return((field[0] ~ '_fragment') if quant_safety.contract_needs_fragment(field)
            else quant_safety.contract_path_sql(field[1], spec)) }}
{%- endmacro %}

{% macro contract_field_sql(field, spec) -%}
  {%- set type = field[2] -%}
  {%- if type == 'shape' -%}
    ({{ quant_safety.json_kind(quant_safety.contract_path_sql(field[1].absent, spec)) }} is null
      and {{ quant_safety.json_kind(quant_safety.contract_path_sql(field[1].string, spec)) }} = 'string'
      and {{ quant_safety.json_kind(quant_safety.contract_path_sql(field[1].present, spec)) }} is not null)
  {%- else -%}
    {%- set fragment = quant_safety.contract_field_fragment(field, spec) -%}
    {%- if type == 'string' -%}{{ quant_safety.json_string(fragment) }}
    {%- elif type == 'label' -%}upper(trim({{ quant_safety.json_string(fragment) }}))
    {%- elif type == 'number' -%}{{ quant_safety.json_number(fragment) }}
    {%- elif type == 'boolean' -%}{{ quant_safety.json_boolean(fragment) }}
    {%- elif type == 'kind' -%}{{ quant_safety.json_kind(fragment) }}
    {%- else -%}{{ exceptions.raise_compiler_error('contract spec: unknown field type ' ~ type) }}
    {%- endif -%}
  {%- endif -%}
{%- endmacro %}

{#- Reason a required string field fails the contract (require_string), at the
    field's fragment; unless_string: no problem when that field is a string. -#}
{% macro contract_require_sql(check, spec) -%}
  {%- set paths = (check.path or check.require).split('|') -%}
  {%- set fragment = quant_safety.contract_path_sql(paths[0], spec) -%}
  {%- for field in spec.fields if paths | length > 1 and field[1] == check.path -%}
    {%- set fragment = quant_safety.contract_field_fragment(field, spec) -%}
    {{ return(quant_safety.contract_require_case(check, spec, fragment)) }}
  {%- endfor -%}
  {{ return(quant_safety.contract_require_case(check, spec, fragment)) }}
{%- endmacro %}

{% macro contract_require_case(check, spec, fragment) -%}
  {%- if check.unless_string -%}
    case when {{ quant_safety.json_kind(quant_safety.contract_path_sql(check.unless_string, spec)) }} = 'string' then null
      else {{ quant_safety.require_string(fragment, check.require) }} end
  {%- else -%}
    {{ quant_safety.require_string(fragment, check.require) }}
  {%- endif -%}
{%- endmacro %}

{#- The problem of a line, or null: the line-level checks every kind shares,
    then the kind's checks in the order of its spec. -#}
{% macro contract_ladder(spec) -%}
case
            when line_problem is not null then line_problem
            when not is_valid_json and (raw_line is null or trim(raw_line) = '') then 'blank_line'
            when not is_valid_json then 'invalid_json'
            when line_kind <> 'object' then 'not_an_object: line is a JSON ' || line_kind
            {%- for check in spec.checks %}
            {{ quant_safety.contract_check_sql(check) | trim }}
            {%- endfor %}
        end
{%- endmacro %}

{% macro contract_check_sql(check) -%}
  {%- if check.accept_when -%}
    when {{ check.accept_when }} then null
  {%- elif check.require -%}
    when {{ check.require }}_problem is not null then {{ check.require }}_problem
  {%- elif check.known_task -%}
    when tasks.task_name is null then 'unknown_task: ' || typed.task_name
  {%- elif check.object -%}
    when {{ check.object }} is null or {{ check.object }} <> 'object' then 'missing_field: {{ check.name }}'
  {%- elif check.value -%}
    {%- set value, kind = check.value, check.value ~ '_kind' -%}
    {%- if check.required -%}
      {%- if check.nonfinite %}
            when {{ kind }} is null and had_nonfinite_token then 'non_finite_value: {{ check.name }}'
      {%- endif %}
            when {{ kind }} is null or {{ kind }} = 'null' then 'missing_field: {{ check.name }}'
            when {{ kind }} <> '{{ check.type }}' then 'wrong_type: {{ check.name }} is ' || {{ kind }}
    {%- else %}
            when {{ kind }} is not null and {{ kind }} not in ('{{ check.type }}', 'null')
                then 'wrong_type: {{ check.name }} is ' || {{ kind }}
    {%- endif %}
    {%- if check.range %}
            when {{ value }} < ranges.{{ value }}_min or {{ value }} > ranges.{{ value }}_max
                then 'out_of_range: {{ check.name }} ' || cast({{ value }} as {{ dbt.type_string() }})
    {%- endif %}
  {%- elif check.label -%}
    when {{ check.label }}_vocabulary.judge_label is null
                then 'invalid_label: {{ check.prefix }}' || typed.{{ check.label }} || ' is not a ' || tasks.task_role || ' label'
  {%- else -%}
    {{ exceptions.raise_compiler_error('contract spec: unknown check ' ~ check) }}
  {%- endif -%}
{%- endmacro %}
