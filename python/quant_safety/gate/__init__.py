"""The data-quality gate: Great Expectations suites over warehouse summaries."""
from .run import GateResult, import_libraries, run_gate

__all__ = ["GateResult", "import_libraries", "run_gate"]
