{#- Engine-specific text handling of the Phase 6 refusal-style features (contract §8).
    Called through adapter.dispatch so another engine (Spark) only adds its own
    implementation next to the DuckDB one. -#}

{#- Prefix of a response: lower-case, every run of characters outside [a-z0-9]
    replaced by one space, whitespace trimmed, the first `n_tokens` tokens joined
    by single spaces ("I'm sorry, but I can't" -> "i m sorry but i").
    Only the start of the text is normalised when that is enough: lower() maps
    each character on its own, so the tokens of the first W characters are the
    text's tokens, the last one possibly cut at W; when the window holds MORE than
    n_tokens tokens, its first n_tokens are complete and equal the text's. Else
    (short window, or a long run of punctuation) the whole text is normalised, as
    before. W = 32 characters per token. Same result, half the time on the demo
    responses (hundreds of characters each). -#}
{% macro refusal_prefix(text_expr, n_tokens) -%}
  {{ return(adapter.dispatch('refusal_prefix', 'quant_safety')(text_expr, n_tokens)) }}
{%- endmacro %}

{% macro duckdb__refusal_prefix(text_expr, n_tokens) -%}
  {%- set whole = "coalesce(" ~ text_expr ~ ", '')" -%}
  {%- set head = quant_safety.duckdb_prefix_tokens("left(" ~ whole ~ ", " ~ (32 * n_tokens | int) ~ ")") -%}
  array_to_string(
    list_slice(
      case when len({{ head }}) > {{ n_tokens }} then {{ head }} else {{ quant_safety.duckdb_prefix_tokens(whole) }} end,
      1, {{ n_tokens }}),
    ' ')
{%- endmacro %}

{#- the tokens of the normalised text (lower-case, non [a-z0-9] runs -> one space, trimmed) -#}
{% macro duckdb_prefix_tokens(expr) -%}
  string_split(trim(regexp_replace(lower({{ expr }}), '[^a-z0-9]+', ' ', 'g')), ' ')
{%- endmacro %}

{% macro spark__refusal_prefix(text_expr, n_tokens) -%}
  {%- set whole = "coalesce(" ~ text_expr ~ ", '')" -%}
  {%- set head = quant_safety.spark_prefix_tokens("substring(" ~ whole ~ ", 1, " ~ (32 * n_tokens | int) ~ ")") -%}
  array_join(
    slice(
      case when size({{ head }}) > {{ n_tokens }} then {{ head }} else {{ quant_safety.spark_prefix_tokens(whole) }} end,
      1, {{ n_tokens }}),
    ' ')
{%- endmacro %}

{% macro spark_prefix_tokens(expr) -%}
  split(trim(regexp_replace(lower({{ expr }}), '[^a-z0-9]+', ' ')), ' ')
{%- endmacro %}

{#- Number of whitespace-separated tokens, Python str.split() semantics: the
    maximal runs of characters that are not Python whitespace (str.isspace():
    tab, newline, \x0b, \x0c, \r, \x1c-\x1f, space, \x85, no-break space and
    the other Unicode spaces), so 0 for an empty or blank text. Neither engine's
    trim() nor RE2's \s is that set: trim() strips spaces only, so a response
    starting with a newline counted one token too many. -#}
{% macro python_whitespace_chars() -%}
\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}
{%- endmacro %}

{% macro whitespace_token_count(text_expr) -%}
  {{ return(adapter.dispatch('whitespace_token_count', 'quant_safety')(text_expr)) }}
{%- endmacro %}

{% macro duckdb__whitespace_token_count(text_expr) -%}
  len(regexp_extract_all(coalesce({{ text_expr }}, ''), '[^{{ quant_safety.python_whitespace_chars() }}]+'))
{%- endmacro %}

{#- Spark SQL string literals treat a backslash as an escape: each one is doubled
    so that Java's regex sees the same class (Java regex reads \x{...} too). -#}
{% macro spark__whitespace_token_count(text_expr) -%}
  size(regexp_extract_all(coalesce({{ text_expr }}, ''),
    '[^{{ quant_safety.python_whitespace_chars() | replace('\\', '\\\\') }}]+', 0))
{%- endmacro %}
