{#- Are the build's inputs the synthetic demo data? One row, decided by the
    build's pre-flight step by content (quant_safety.demo.fingerprint: every
    input file's audited sha256 is one `qsafety demo` wrote - the shipped
    default run or the run recorded in the raw dir), never from a lockfile or
    a var: a lab's own logs are never called synthetic. The claim ledger's
    by_construction status reads it. The file lives in the build dir
    (QSAFETY_AUDIT_DIR) beside source_audit.csv. -#}
{{ config(materialized = 'table') }}

select
    coalesce(inputs_are_demo, false) as inputs_are_demo,
    input_files,
    demo_files
from {{ quant_safety.read_csv_file(quant_safety.audit_csv('source_provenance.csv'),
                                   {'inputs_are_demo': 'BOOLEAN', 'input_files': 'BIGINT', 'demo_files': 'BIGINT'}) }}
