{#- Kind D (samples.jsonl beside each scored safety file): the response text of
    every safety-run generation, which Phase 6 needs, with its contract problem
    (macros/ingest/contract.sql). A record names its model in model or
    model_name. Incremental by file hash. -#}
{{ config(**quant_safety.base_lines_config()) }}

{{ quant_safety.contract_lines({
    'record_kind': 'D',
    'parse': {'model': 'JSON', 'model_name': 'JSON', 'task_name': 'JSON', 'sample_id': 'JSON',
              'candidate': 'JSON', 'num_tokens_generated': 'JSON'},
    'fields': [['raw_model_name', 'model|model_name', 'string'], ['task_name', 'task_name', 'string'],
               ['task_role', none, 'task_role'], ['sample_id', 'sample_id', 'string'],
               ['candidate_text', 'candidate', 'string'], ['candidate_kind', 'candidate', 'kind'],
               ['num_tokens_generated', 'num_tokens_generated', 'number']],
    'tasks': {'record_kind': 'B'},
    'checks': [{'require': 'model', 'path': 'model_name', 'unless_string': 'model'}, {'require': 'task_name'},
               {'require': 'sample_id'}, {'known_task': true},
               {'value': 'candidate', 'type': 'string', 'name': 'candidate'}]
}) }}
