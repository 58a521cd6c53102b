"""The generated lab of the default suite: CI_CASES cases built once per session through a
fresh checkout, as a user builds their own logs (tests/oracle/harness.py)."""
from __future__ import annotations

import pytest

from . import harness

CI_CASES, CI_SEED, CI_MAX_MODELS = 30, 20250615, 2   # + the name-zoo case: 31 cases


@pytest.fixture(scope="session")
def lab(tmp_path_factory) -> harness.LabBuild:
    return harness.build_generated_lab(tmp_path_factory.mktemp("oracle_lab"), CI_CASES, CI_SEED, export=True,
                                       max_models=CI_MAX_MODELS)
