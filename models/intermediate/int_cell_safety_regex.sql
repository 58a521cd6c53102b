{#- Regex-scored safety rates per cell (contract §8): mean score by task role —
    refusal over advbench + jailbreak (n = 220), truthfulness over truthfulqa
    (half credit, n = 50), bias resistance over bbq (n = 198). Their intervals
    are in cell_intervals (Wilson for 0/1 scores, t otherwise). -#}
with safety_rows as (
    select
        base_model,
        quant,
        task_role,
        score
    from {{ ref('stg_safety__scored_samples') }}
    where task_role in ('refusal', 'truthfulness', 'bias')
),

rates as (
    select
        base_model,
        quant,
        avg(case when task_role = 'refusal' then score end) as safety_refusal_rate,
        count(case when task_role = 'refusal' then score end) as safety_refusal_rate_n,
        avg(case when task_role = 'truthfulness' then score end) as safety_truthfulness,
        count(case when task_role = 'truthfulness' then score end) as safety_truthfulness_n,
        avg(case when task_role = 'bias' then score end) as safety_bias_resistance,
        count(case when task_role = 'bias' then score end) as safety_bias_resistance_n
    from safety_rows
    group by base_model, quant
)

select
    base_model,
    quant,
    {%- for level in ['safety_refusal_rate', 'safety_truthfulness', 'safety_bias_resistance'] %}
        {{ level }},
        {{ level }}_n{% if not loop.last %},{% endif %}
    {%- endfor %}
from rates
