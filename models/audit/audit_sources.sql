{#- What the build found on disk for every manifest source (sha256, size, raw
    line count: audit_source_files, the source audit of this run) next to what
    the manifest locked. The data-quality gate validates it. Staging reads
    exactly these bytes: every load chunk (audit_source_chunks) is checked
    against the same pass's hashes as it is read (qsafety_read_chunk), so
    actual_sha256 is the hash of the bytes loaded. -#}
{{ config(materialized = 'table') }}

with audit as (
    select *
    from {{ ref('audit_source_files') }}
)

select
    manifest.source_label,
    manifest.role,
    manifest.record_kind,
    manifest.relative_path,
    manifest.precedence,
    manifest.release_wave,
    manifest.sha256 as expected_sha256,
    audit.sha256 as actual_sha256,
    manifest.expected_raw_rows,
    audit.raw_lines as actual_raw_lines,
    manifest.expected_loaded_rows,
    audit.size_bytes,
    coalesce(audit.file_exists, false) as file_exists,
    (coalesce(audit.sha256, '') = coalesce(manifest.sha256, '')) as sha256_matches
from {{ ref('source_manifest') }} as manifest
left join audit
    on manifest.source_label = audit.source_label
