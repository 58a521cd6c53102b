"""Statistics of the quality-safety matrix (TR142 v3 SS6, SS10, SS13, SS16-SS19).

Every function takes the ``matrix`` mart as a pandas DataFrame (one row per
(base_model, quant) cell; columns per docs/interfaces.md "Cell matrix") and
returns a tidy DataFrame with a ``scope`` column: ``all_cells`` (all
non-baseline cells) and ``through_wave_<w>`` for each release wave below the
maximum present.  On the reference data ``through_wave_1`` is the report's
47-cell bundle (41 non-baseline cells) and ``all_cells`` the 51-cell bundle
(45 non-baseline cells).  Each module docstring records how the report's
ambiguities were read and which published values reproduce.
"""
from ._common import (
    LEVEL_METRICS,
    QUALITY_METRICS,
    REFUSAL_METRICS,
    SAFETY_METRICS,
    iter_scopes,
    scope_names,
)
from .correlations import sign_reversal_summary, within_model_correlations
from .regressions import bpw_regressions
from .robustness import leave_one_out, mixed_models, repeated_measures
from .style import refusal_style_correlations

__all__ = [
    "within_model_correlations",
    "sign_reversal_summary",
    "leave_one_out",
    "repeated_measures",
    "mixed_models",
    "bpw_regressions",
    "refusal_style_correlations",
    "iter_scopes",
    "scope_names",
    "QUALITY_METRICS",
    "SAFETY_METRICS",
    "REFUSAL_METRICS",
    "LEVEL_METRICS",
]
