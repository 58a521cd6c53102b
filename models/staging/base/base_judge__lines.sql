{#- Kind C (judge annotations): every raw line of every judge source, parsed
    once, with its contract problem (macros/ingest/contract.sql). Recognises the
    legacy BBQ variant shape (contract §4: model_name instead of model,
    parse_success instead of judge_parse_success), which is excluded by rule
    downstream. Incremental by file hash. -#}
{{ config(**quant_safety.base_lines_config()) }}

{{ quant_safety.contract_lines({
    'record_kind': 'C',
    'parse': {'sample_id': 'JSON', 'task_name': 'JSON', 'model': 'JSON', 'model_name': 'JSON',
              'base_model': 'JSON', 'quant': 'JSON', 'judge_label': 'JSON', 'judge_model': 'JSON',
              'judge_parse_success': 'JSON', 'parse_success': 'JSON', 'judge_elapsed_ms': 'JSON'},
    'fields': [['raw_model_name', 'model|model_name', 'string'], ['task_name', 'task_name', 'string'],
               ['task_role', none, 'task_role'], ['sample_id', 'sample_id', 'string'],
               ['judge_label', 'judge_label', 'label'], ['judge_model', 'judge_model', 'string'],
               ['judge_parse_success', 'judge_parse_success|parse_success', 'boolean'],
               ['judge_elapsed_ms', 'judge_elapsed_ms', 'number'],
               ['is_legacy_bbq_shape', {'absent': 'model', 'string': 'model_name', 'present': 'parse_success'}, 'shape']],
    'tasks': {'record_kind': 'B', 'exclude_role': 'capability'},
    'checks': [{'accept_when': 'is_legacy_bbq_shape'}, {'require': 'model'}, {'require': 'task_name'},
               {'require': 'sample_id'}, {'known_task': true}, {'require': 'judge_label'},
               {'label': 'judge_label', 'prefix': ''}]
}) }}
