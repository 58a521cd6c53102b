{#- Agreement of the second judge with the primary judge (report Appendix F):
    share of rows with the same label and Cohen's kappa over the raw labels
    (UNCLEAR / ERROR are categories too), for every second-judge model
    overall, per task, per quant level and per cell. kappa's 95% interval is
    the Wald interval kappa +- z * se with the large-sample standard error of
    Fleiss, Cohen & Everitt (1969), the one statsmodels' cohens_kappa reports
    (var_kappa); z is the exact 95% normal quantile; the bounds are clamped to
    [-1, 1]. -#}
{%- set dbl = quant_safety.marts_double_type() -%}
{%- set z = quant_safety.normal_quantile_975() -%}
{%- set keys = ['grouping', 'second_judge_model', 'task_name', 'base_model', 'quant'] -%}
with pairs as (
    select second_judge_model, task_name, base_model, quant, primary_judge_label, second_judge_label
    from {{ ref('int_second_judge_pairs') }}
),

grouped as (
    select 'overall' as grouping, second_judge_model, 'all' as task_name, 'all' as base_model, 'all' as quant,
        primary_judge_label, second_judge_label
    from pairs
    union all
    select 'task' as grouping, second_judge_model, task_name, 'all' as base_model, 'all' as quant,
        primary_judge_label, second_judge_label
    from pairs
    union all
    select 'quant' as grouping, second_judge_model, 'all' as task_name, 'all' as base_model, quant,
        primary_judge_label, second_judge_label
    from pairs
    union all
    select 'cell' as grouping, second_judge_model, 'all' as task_name, base_model, quant,
        primary_judge_label, second_judge_label
    from pairs
),

confusion as (
    select {{ keys | join(', ') }}, primary_judge_label, second_judge_label, count(*) as pair_rows
    from grouped
    group by {{ keys | join(', ') }}, primary_judge_label, second_judge_label
),

totals as (
    select
        {{ keys | join(', ') }},
        cast(sum(pair_rows) as {{ dbl }}) as n,
        cast(sum(case when primary_judge_label = second_judge_label then pair_rows else 0 end) as {{ dbl }}) as agreeing
    from confusion
    group by {{ keys | join(', ') }}
),

primary_margin as (
    select {{ keys | join(', ') }}, primary_judge_label as label, cast(sum(pair_rows) as {{ dbl }}) as label_rows
    from confusion
    group by {{ keys | join(', ') }}, primary_judge_label
),

second_margin as (
    select {{ keys | join(', ') }}, second_judge_label as label, cast(sum(pair_rows) as {{ dbl }}) as label_rows
    from confusion
    group by {{ keys | join(', ') }}, second_judge_label
),

chance as (
    select
        {% for k in keys %}primary_margin.{{ k }}{{ ', ' if not loop.last }}{% endfor %},
        sum(primary_margin.label_rows * second_margin.label_rows) as product_sum
    from primary_margin
    inner join second_margin
        on {% for k in keys %}second_margin.{{ k }} = primary_margin.{{ k }} and {% endfor %}second_margin.label = primary_margin.label
    group by {% for k in keys %}primary_margin.{{ k }}{{ ', ' if not loop.last }}{% endfor %}
),

kappa as (
    select
        totals.*,
        totals.agreeing / totals.n as observed_agreement,
        coalesce(chance.product_sum, 0) / (totals.n * totals.n) as chance_agreement
    from totals
    left join chance
        on {% for k in keys %}chance.{{ k }} = totals.{{ k }}{{ ' and ' if not loop.last }}{% endfor %}
),

with_kappa as (
    select
        *,
        case when chance_agreement < 1 then (observed_agreement - chance_agreement) / (1 - chance_agreement) end as cohen_kappa
    from kappa
),

{# the variance terms: a over the diagonal, b over the off-diagonal cells,
    each a sum of count-weighted terms divided by n once (not a sum of n
    rounded shares: at kappa = 1, term a is exactly 1 and the variance exactly 0) -#}
cells as (
    select
        {% for k in keys %}confusion.{{ k }}, {% endfor %}
        confusion.primary_judge_label,
        confusion.second_judge_label,
        cast(confusion.pair_rows as {{ dbl }}) as pair_rows,
        with_kappa.n as group_rows,
        with_kappa.cohen_kappa,
        primary_of_row.label_rows / with_kappa.n as primary_share_of_row_label,
        second_of_row.label_rows / with_kappa.n as second_share_of_row_label,
        primary_of_column.label_rows / with_kappa.n as primary_share_of_column_label,
        second_of_column.label_rows / with_kappa.n as second_share_of_column_label
    from confusion
    inner join with_kappa
        on {% for k in keys %}with_kappa.{{ k }} = confusion.{{ k }}{{ ' and ' if not loop.last }}{% endfor %}
    left join primary_margin as primary_of_row
        on {% for k in keys %}primary_of_row.{{ k }} = confusion.{{ k }} and {% endfor %}primary_of_row.label = confusion.primary_judge_label
    left join second_margin as second_of_row
        on {% for k in keys %}second_of_row.{{ k }} = confusion.{{ k }} and {% endfor %}second_of_row.label = confusion.primary_judge_label
    left join primary_margin as primary_of_column
        on {% for k in keys %}primary_of_column.{{ k }} = confusion.{{ k }} and {% endfor %}primary_of_column.label = confusion.second_judge_label
    left join second_margin as second_of_column
        on {% for k in keys %}second_of_column.{{ k }} = confusion.{{ k }} and {% endfor %}second_of_column.label = confusion.second_judge_label
),

variance_terms as (
    select
        {{ keys | join(', ') }},
        sum(case when primary_judge_label = second_judge_label
            then pair_rows * power(1 - (primary_share_of_row_label + second_share_of_row_label) * (1 - cohen_kappa), 2)
            else 0 end) / max(group_rows) as term_a,
        sum(case when primary_judge_label <> second_judge_label
            then pair_rows * power(coalesce(second_share_of_row_label, 0) + coalesce(primary_share_of_column_label, 0), 2)
            else 0 end) / max(group_rows) as term_b_sum
    from cells
    group by {{ keys | join(', ') }}
),

final as (
    select
        with_kappa.*,
        case when with_kappa.cohen_kappa is not null then
            sqrt(greatest(
                (variance_terms.term_a
                    + power(1 - with_kappa.cohen_kappa, 2) * variance_terms.term_b_sum
                    - power(with_kappa.cohen_kappa - with_kappa.chance_agreement * (1 - with_kappa.cohen_kappa), 2))
                / power(1 - with_kappa.chance_agreement, 2) / with_kappa.n, 0.0))
        end as kappa_se
    from with_kappa
    inner join variance_terms
        on {% for k in keys %}variance_terms.{{ k }} = with_kappa.{{ k }}{{ ' and ' if not loop.last }}{% endfor %}
)

select
    grouping,
    second_judge_model,
    task_name,
    base_model,
    quant,
    cast(n as {{ dbt.type_bigint() }}) as n,
    cast(agreeing as {{ dbt.type_bigint() }}) as agreeing,
    100.0 * observed_agreement as agreement_pct,
    chance_agreement,
    cohen_kappa,
    kappa_se,
    {#- greatest / least skip NULL arguments: an undefined kappa keeps a NULL interval -#}
    case when cohen_kappa is not null then greatest(cohen_kappa - {{ z }} * kappa_se, -1.0) end as kappa_ci_lo,
    case when cohen_kappa is not null then least(cohen_kappa + {{ z }} * kappa_se, 1.0) end as kappa_ci_hi,
    'wald_fleiss_cohen_everitt' as kappa_ci_method
from final
