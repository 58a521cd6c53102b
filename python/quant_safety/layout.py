"""The default raw layout: the 16 source files of the report's Appendix B.1-B.3,
the kind-D response files beside each scored safety file and the kind-E
second-judge file of Appendix F.

This is configuration (labels, roles, relative paths, judge precedence, release
wave), not results: `qsafety lock` turns it into the source manifest by hashing
and counting the files actually present.
"""
from __future__ import annotations

# label, role, record_kind, relative path, precedence, release_wave
DEFAULT_SOURCES: list[tuple[str, str, str, str, int, int]] = [
    ("tr125_phase2_legacy", "quality", "A", "results/eval/tr125_phase2/20260221_120035/samples.jsonl", 1, 1),
    ("tr125_expansion_7b", "quality", "A", "research/tr142/expansion/results/tr125_expansion/20260328_064807/samples_scored.jsonl", 1, 1),
    ("v3_awq_gptq_quality", "quality", "A", "research/tr142/expansion/results/v3_quality/20260330_222254/samples_scored.jsonl", 1, 1),
    ("v3_7b_awq_quality", "quality", "A", "research/tr142/expansion/results/v3_quality_7b_awq/20260406_033657/samples.jsonl", 1, 2),
    ("v3_7b_gptq_quality", "quality", "A", "research/tr142/expansion/results/v3_quality_7b_gptq/20260406_181327/samples.jsonl", 1, 2),
    ("tr134_phase3_legacy", "safety", "B", "research/tr134/results/phase3/20260305_144827/phase3_scored.jsonl", 1, 1),
    ("tr134_expansion_small_models", "safety", "B", "research/tr142/expansion/results/tr134_expansion/20260327_170457/phase3_scored.jsonl", 1, 1),
    ("v3_awq_gptq_safety", "safety", "B", "research/tr142/expansion/results/v3_safety/20260331_125319/phase3_scored.jsonl", 1, 1),
    ("v3_7b_awq_safety", "safety", "B", "research/tr142/expansion/results/v3_safety_7b_awq/20260406_190115/phase3_scored.jsonl", 1, 2),
    ("v3_7b_gptq_safety", "safety", "B", "research/tr142/expansion/results/v3_safety_7b_gptq/20260407_150840/phase3_scored.jsonl", 1, 2),
    ("tr134_legacy_judge", "judge", "C", "research/tr134/results/phase3/20260305_144827/phase3_judged.jsonl", 1, 1),
    ("expansion_gemma3_judge", "judge", "C", "research/tr142/expansion/results/judge_gemma3/expansion_judged_20260328_150119.jsonl", 2, 1),
    ("rejudge_7b_gemma3", "judge", "C", "research/tr142/expansion/results/judge_gemma3/rejudge_7b_20260328_172908.jsonl", 3, 1),
    ("v3_awq_gptq_judge", "judge", "C", "research/tr142/expansion/results/v3_safety/20260331_125319/phase3_judged.jsonl", 4, 1),
    ("v3_7b_awq_judge", "judge", "C", "research/tr142/expansion/results/v3_safety_7b_awq/20260406_190115/phase3_judged.jsonl", 4, 2),
    ("v3_7b_gptq_judge", "judge", "C", "research/tr142/expansion/results/v3_safety_7b_gptq/20260407_150840/phase3_judged.jsonl", 4, 2),
    ("tr134_phase3_legacy_text", "safety_text", "D", "research/tr134/results/phase3/20260305_144827/samples.jsonl", 1, 1),
    ("tr134_expansion_small_models_text", "safety_text", "D", "research/tr142/expansion/results/tr134_expansion/20260327_170457/samples.jsonl", 1, 1),
    ("v3_awq_gptq_safety_text", "safety_text", "D", "research/tr142/expansion/results/v3_safety/20260331_125319/samples.jsonl", 1, 1),
    ("v3_7b_awq_safety_text", "safety_text", "D", "research/tr142/expansion/results/v3_safety_7b_awq/20260406_190115/samples.jsonl", 1, 2),
    ("v3_7b_gptq_safety_text", "safety_text", "D", "research/tr142/expansion/results/v3_safety_7b_gptq/20260407_150840/samples.jsonl", 1, 2),
    # Appendix F: the second-judge pass over a stratified subset (schema inferred, docs/raw-logs.md)
    ("tr142_second_judge", "second_judge", "E", "research/tr142/second_judge/combined_second_judge.jsonl", 1, 2),
]

ROLE_OF_KIND = {"A": "quality", "B": "safety", "C": "judge", "D": "safety_text", "E": "second_judge"}
