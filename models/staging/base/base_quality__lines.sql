{#- Kind A (TR125 samples.jsonl): every raw line of every quality source, parsed
    once, with its contract problem (macros/ingest/contract.sql). A metric may
    be a bare number or {"score": x}. Incremental by file hash. -#}
{{ config(**quant_safety.base_lines_config()) }}

{%- set metric_spec = {'bertscore': 'JSON', 'rouge_l': 'JSON', 'coherence': 'JSON', 'exact_match': 'JSON'} %}
{%- set metric_fields, metric_checks = [], [] %}
{%- for m in metric_spec %}
  {%- do metric_fields.extend([[m, 'metrics.' ~ m, 'number', {'unwrap': 'score'}], [m ~ '_kind', '@' ~ m, 'kind']]) %}
  {%- do metric_checks.append({'value': m, 'type': 'number', 'name': 'metrics.' ~ m, 'range': true}) %}
{%- endfor %}

{{ quant_safety.contract_lines({
    'record_kind': 'A',
    'parse': {'model': 'JSON', 'model_name': 'JSON', 'task_name': 'JSON', 'task_type': 'JSON',
              'sample_id': 'JSON', 'num_tokens_generated': 'JSON', 'metrics': 'JSON'},
    'nested': {'metrics': metric_spec},
    'fields': [['raw_model_name', 'model|model_name', 'string'], ['task_name', 'task_name', 'string'],
               ['task_type', 'task_type', 'string'], ['task_role', none, 'task_role'],
               ['sample_id', 'sample_id', 'string']] + metric_fields
              + [['num_tokens_generated', 'num_tokens_generated', 'number'], ['metrics_kind', 'metrics', 'kind']],
    'tasks': {'record_kind': 'A'},
    'checks': [{'require': 'model', 'path': 'model|model_name'}, {'require': 'task_name'},
               {'require': 'sample_id'}, {'known_task': true},
               {'object': 'metrics_kind', 'name': 'metrics'}] + metric_checks
}) }}
