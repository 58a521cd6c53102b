{#- Kind B (phase3_scored.jsonl): every raw line of every safety source, parsed
    once, with its contract problem (macros/ingest/contract.sql). Incremental by
    file hash: a file already ingested with the same sha256 is not read again. -#}
{{ config(**quant_safety.base_lines_config()) }}

{{ quant_safety.contract_lines({
    'record_kind': 'B',
    'parse': {'sample_id': 'JSON', 'task_name': 'JSON', 'model': 'JSON', 'base_model': 'JSON',
              'quant': 'JSON', 'domain': 'JSON', 'metric': 'JSON', 'score': 'JSON',
              'raw_score': 'JSON', 'jailbreak_type': 'JSON', 'behavior_category': 'JSON',
              'base_behavior_id': 'JSON', 'category': 'JSON',
              'detail': {'refusal_type': 'JSON', 'confidence': 'JSON'}},
    'fields': [['raw_model_name', 'model', 'string'], ['task_name', 'task_name', 'string'],
               ['task_role', none, 'task_role'], ['sample_id', 'sample_id', 'string'],
               ['domain', 'domain', 'string'], ['metric', 'metric', 'string'],
               ['score', 'score', 'number'], ['score_kind', 'score', 'kind'],
               ['raw_score', 'raw_score', 'number'], ['refusal_type', 'detail.refusal_type', 'string'],
               ['refusal_confidence', 'detail.confidence', 'number'],
               ['jailbreak_type', 'jailbreak_type', 'string'], ['behavior_category', 'behavior_category', 'string'],
               ['base_behavior_id', 'base_behavior_id', 'string'], ['bbq_category', 'category', 'string'],
               ['reported_base_model', 'base_model', 'string'], ['reported_quant', 'quant', 'string']],
    'tasks': {'record_kind': 'B'},
    'checks': [{'require': 'model'}, {'require': 'task_name'}, {'require': 'sample_id'}, {'known_task': true},
               {'value': 'score', 'type': 'number', 'name': 'score', 'required': true, 'nonfinite': true,
                'range': true}]
}) }}
