{#- Are the build's inputs the synthetic demo data? One row, decided by the
    build's pre-flight step by content (quant_safety.demo.fingerprint: every
    input file's audited sha256 is one `qsafety demo` wrote - the shipped
    default run or the run recorded in the raw dir), never from a lockfile or
    a var: a lab's own logs are never called synthetic. The claim ledger's
    by_construction status reads it. The file lives in the build dir
    (QSAFETY_AUDIT_DIR) beside source_audit.csv; on DuckDB the plugin function
    below makes the same decision over this run's audit (a plain `dbt build` too). -#}
{{ config(materialized = 'table') }}
-- depends_on: {{ ref('audit_source_files') }}

{% if target.type == 'duckdb' -%}
{#- the plugin's qsafety_source_provenance (dbt_plugin.py): the same decision over this run's
    source audit, under `qsafety build` and a plain `dbt build` alike (AL09 noqa: a struct
    field's column is named by its alias only) -#}
select
    coalesce(provenance_row.provenance.inputs_are_demo, false) as inputs_are_demo,
    provenance_row.provenance.input_files as input_files,  -- noqa: AL09
    provenance_row.provenance.demo_files as demo_files  -- noqa: AL09
from (select qsafety_source_provenance() as provenance) as provenance_row
{%- else -%}
select
    coalesce(inputs_are_demo, false) as inputs_are_demo,
    input_files,
    demo_files
from {{ quant_safety.read_csv_file(quant_safety.audit_csv('source_provenance.csv'),
                                   {'inputs_are_demo': 'BOOLEAN', 'input_files': 'BIGINT', 'demo_files': 'BIGINT'}) }}
{%- endif %}
