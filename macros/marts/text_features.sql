{#- Engine-specific text handling of the Phase 6 refusal-style features (contract §8).
    Called through adapter.dispatch so another engine (Spark) only adds its own
    implementation next to the DuckDB one. -#}

{#- Prefix of a response: lower-case, every run of characters outside [a-z0-9]
    replaced by one space, whitespace trimmed, the first `n_tokens` tokens joined
    by single spaces ("I'm sorry, but I can't" -> "i m sorry but i"). -#}
{% macro refusal_prefix(text_expr, n_tokens) -%}
  {{ return(adapter.dispatch('refusal_prefix', 'quant_safety')(text_expr, n_tokens)) }}
{%- endmacro %}

{% macro duckdb__refusal_prefix(text_expr, n_tokens) -%}
  array_to_string(
    list_slice(
      string_split(trim(regexp_replace(lower(coalesce({{ text_expr }}, '')), '[^a-z0-9]+', ' ', 'g')), ' '),
      1, {{ n_tokens }}),
    ' ')
{%- endmacro %}

{% macro spark__refusal_prefix(text_expr, n_tokens) -%}
  array_join(
    slice(
      split(trim(regexp_replace(lower(coalesce({{ text_expr }}, '')), '[^a-z0-9]+', ' ')), ' '),
      1, {{ n_tokens }}),
    ' ')
{%- endmacro %}

{#- Number of whitespace-separated tokens (Python str.split() semantics: 0 for an
    empty or blank text). -#}
{% macro whitespace_token_count(text_expr) -%}
  {{ return(adapter.dispatch('whitespace_token_count', 'quant_safety')(text_expr)) }}
{%- endmacro %}

{% macro duckdb__whitespace_token_count(text_expr) -%}
  case
    when trim(coalesce({{ text_expr }}, '')) = '' then 0
    else len(string_split_regex(trim({{ text_expr }}), '\s+'))
  end
{%- endmacro %}

{% macro spark__whitespace_token_count(text_expr) -%}
  case
    when trim(coalesce({{ text_expr }}, '')) = '' then 0
    else size(split(trim({{ text_expr }}), '\\s+'))
  end
{%- endmacro %}
