{#- Kind E (second-judge annotations, report Appendix F
    combined_second_judge.jsonl; schema inferred, docs/raw-logs.md): every raw
    line of every second-judge source, parsed once, with its contract problem
    (macros/ingest/contract.sql). A line must name the cell (model), task and
    sample, and carry the primary judge's label and the second judge's label and
    model; both labels must belong to the task's vocabulary (judge_labels).
    Incremental by file hash. -#}
{{ config(**quant_safety.base_lines_config()) }}

{{ quant_safety.contract_lines({
    'record_kind': 'E',
    'parse': {'sample_id': 'JSON', 'task_name': 'JSON', 'model': 'JSON',
              'primary_judge_label': 'JSON', 'primary_judge_model': 'JSON',
              'second_judge_label': 'JSON', 'second_judge_model': 'JSON',
              'second_judge_parse_success': 'JSON', 'stratum': 'JSON'},
    'fields': [['raw_model_name', 'model', 'string'], ['task_name', 'task_name', 'string'],
               ['task_role', none, 'task_role'], ['sample_id', 'sample_id', 'string'],
               ['primary_judge_label', 'primary_judge_label', 'label'],
               ['primary_judge_model', 'primary_judge_model', 'string'],
               ['second_judge_label', 'second_judge_label', 'label'],
               ['second_judge_model', 'second_judge_model', 'string'],
               ['second_judge_parse_success', 'second_judge_parse_success', 'boolean'],
               ['stratum', 'stratum', 'string']],
    'tasks': {'record_kind': 'B', 'exclude_role': 'capability'},
    'checks': [{'require': 'model'}, {'require': 'task_name'}, {'require': 'sample_id'}, {'known_task': true},
               {'require': 'primary_judge_label'}, {'require': 'second_judge_label'},
               {'require': 'second_judge_model'},
               {'label': 'primary_judge_label', 'prefix': 'primary '},
               {'label': 'second_judge_label', 'prefix': 'second '}]
}) }}
