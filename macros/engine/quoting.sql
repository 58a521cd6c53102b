{#- The one way a value from outside the code becomes SQL text: a file path,
    a source label or hash from the lockfile or the audit, a dbt var. The value
    is validated first (python/quant_safety/validate.py; validate_vars below),
    then rendered by sql_string (a string literal) or sql_identifier (a quoted
    identifier), dispatched per adapter because the engines escape differently:
      DuckDB (and the default): standard SQL, '' inside '...', "" inside "...";
        a backslash is an ordinary character;
      Spark: a backslash escapes inside '...' (spark.sql.parser.escapedStringLiterals
        is false by default), so \ and ' are escaped with a backslash; `` inside `...`.
    A value holding a NUL or another control character never reaches SQL
    (refused here: no engine quotes it reliably). -#}
{% macro sql_string(value) -%}
  {{ return(adapter.dispatch('sql_string', 'quant_safety')(value)) }}
{%- endmacro %}

{% macro default__sql_string(value) -%}
  {%- if value is none -%}
    {{ return('null') }}
  {%- endif -%}
  {%- set text = quant_safety.quotable_text(value) -%}
  {{ return("'" ~ text | replace("'", "''") ~ "'") }}
{%- endmacro %}

{% macro spark__sql_string(value) -%}
  {%- if value is none -%}
    {{ return('null') }}
  {%- endif -%}
  {%- set text = quant_safety.quotable_text(value) -%}
  {{ return("'" ~ text | replace("\\", "\\\\") | replace("'", "\\'") ~ "'") }}
{%- endmacro %}

{% macro sql_identifier(name) -%}
  {{ return(adapter.dispatch('sql_identifier', 'quant_safety')(name)) }}
{%- endmacro %}

{% macro default__sql_identifier(name) -%}
  {{ return('"' ~ quant_safety.quotable_text(name) | replace('"', '""') ~ '"') }}
{%- endmacro %}

{% macro spark__sql_identifier(name) -%}
  {{ return('`' ~ quant_safety.quotable_text(name) | replace('`', '``') ~ '`') }}
{%- endmacro %}

{#- The text of a value to quote; a control character stops the compilation. -#}
{% macro quotable_text(value) -%}
  {%- set text = value | string -%}
  {%- if modules.re.search('[\\x00-\\x1f\\x7f]', text) -%}
    {{ exceptions.raise_compiler_error("refusing to quote a value with a control character: " ~ (text | tojson)) }}
  {%- endif -%}
  {{ return(text) }}
{%- endmacro %}

{#- A validated number as SQL text (a dbt var that is a threshold): anything
    but an int or a float stops the compilation. -#}
{% macro sql_number(value, name='value') -%}
  {%- if value is boolean or value is not number -%}
    {{ exceptions.raise_compiler_error("var " ~ name ~ ": " ~ (value | string | tojson) ~ " is not a number") }}
  {%- endif -%}
  {{ return(value | string) }}
{%- endmacro %}

{#- on-run-start: every var against its rule in var_rules (dbt_project.yml),
    before any model runs, so that a plain `dbt build --vars ...` is checked
    as `qsafety build --var` is (quant_safety.validate.check_var, same rules).
    Renders no SQL. -#}
{% macro validate_vars() -%}
  {%- if var('raw_dir') != env_var('QSAFETY_RAW_DIR', 'data/raw') -%}
    {{ exceptions.raise_compiler_error("var raw_dir: cannot be overridden (the raw dir is QSAFETY_RAW_DIR, which the source audit reads)") }}
  {%- endif -%}
  {%- set rules = var('var_rules', {}) -%}
  {%- for name, rule in rules.items() -%}
    {%- set value = var(name, none) -%}
    {%- if value is not none -%}
      {%- set problem = quant_safety.var_problem(value, rule) -%}
      {%- if problem -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ ": " ~ (value | string | tojson) ~ " " ~ problem) }}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
{%- endmacro %}

{% macro var_problem(value, rule) -%}
  {%- if 'number' in rule or 'integer' in rule -%}
    {%- set bounds = rule.get('number', rule.get('integer')) -%}
    {%- if value is boolean or value is not number -%}
      {{ return('is not a number') }}
    {%- elif 'integer' in rule and value is not integer -%}
      {{ return('is not an integer') }}
    {%- elif value < bounds[0] or value > bounds[1] -%}
      {{ return('is outside [' ~ bounds[0] ~ ', ' ~ bounds[1] ~ ']') }}
    {%- endif -%}
  {%- elif 'choice' in rule -%}
    {%- if value not in rule['choice'] -%}
      {{ return('is not one of ' ~ rule['choice'] | join(', ')) }}
    {%- endif -%}
  {%- elif 'choices' in rule -%}
    {%- if value is string or value is not iterable or value | length == 0 -%}
      {{ return('is not a list of ' ~ rule['choices'] | join(', ')) }}
    {%- endif -%}
    {%- for item in value -%}
      {%- if item not in rule['choices'] -%}
        {{ return('holds ' ~ (item | string | tojson) ~ ', not one of ' ~ rule['choices'] | join(', ')) }}
      {%- endif -%}
    {%- endfor -%}
  {%- elif 'name' in rule -%}
    {%- if value is not string or not modules.re.fullmatch('[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}', value) -%}
      {{ return('is not a name (letters, digits, _ . + -)') }}
    {%- endif -%}
  {%- elif 'boolean' in rule -%}
    {%- if not (value is boolean or (value | string | lower) in ['true', 'false']) -%}
      {{ return('is not true or false') }}
    {%- endif -%}
  {%- endif -%}
  {{ return('') }}
{%- endmacro %}

{#- on-run-start, DuckDB: the source audit of this run (dbt_plugin.configure_audit):
    chunked at var raw_line_max_bytes, every file re-read on --full-refresh, no
    result of an earlier invocation in the same process reused. Spark: nothing
    (its audit is qsafety build's pre-flight). -#}
{% macro configure_source_audit() -%}
  {%- if target.type == 'duckdb' -%}
    select qsafety_configure_audit({{ quant_safety.sql_number(var('raw_line_max_bytes'), 'raw_line_max_bytes') }},
      {{ 'true' if flags.FULL_REFRESH else 'false' }})
  {%- endif -%}
{%- endmacro %}

{#- on-run-start, DuckDB: any dbt run changes the warehouse, so what the last
    `qsafety build` recorded about it (quant_safety/uptodate.py) no longer describes it:
    forget it. build_fingerprint: the inputs it was built from; parse_code_key: the code
    its parse rows were written with (a plain run may have parsed files with other code).
    `qsafety build` records both after its dbt run, before the swap; a plain `dbt build`
    leaves neither, so the next `qsafety build` builds, parsing every file again. -#}
{% macro forget_build_record(identifier) -%}
  {%- if identifier not in ('build_fingerprint', 'parse_code_key') -%}
    {{ exceptions.raise_compiler_error("forget_build_record: not a build record: " ~ (identifier | tojson)) }}
  {%- endif -%}
  {%- if target.type == 'duckdb' -%}
    drop table if exists {{ api.Relation.create(database=target.database, schema=target.schema,
                                                identifier=identifier) }}
  {%- endif -%}
{%- endmacro %}
