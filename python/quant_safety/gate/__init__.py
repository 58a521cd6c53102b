"""The data-quality gate: Great Expectations suites over warehouse summaries."""
from .run import GateResult, run_gate

__all__ = ["GateResult", "run_gate"]
