"""The data-quality gate: the Great Expectations project gx/ over warehouse summaries."""
from .run import GateResult, build_run_name, import_libraries, publish_data_docs, run_gate

__all__ = ["GateResult", "build_run_name", "import_libraries", "publish_data_docs", "run_gate"]
