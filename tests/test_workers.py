"""quant_safety.workers.in_worker: a function computed by one worker process while the
caller goes on; the same value as computed here, a failure raised by result(), and on
one core computed here."""
from __future__ import annotations

import os

import pytest

from quant_safety.workers import in_worker


def test_in_worker_gives_the_value_computed_here():
    task = [3, 1, 2]
    future = in_worker(sorted, task)
    assert future.result(timeout=60) == sorted(task) == [1, 2, 3]


def test_a_failure_in_the_worker_is_raised_by_result():
    with pytest.raises(RuntimeError, match=r"(?s)sorted failed:.*TypeError"):
        in_worker(sorted, [1, "a"]).result(timeout=60)


def test_on_one_core_it_is_computed_here_at_once(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    future = in_worker(sorted, [2, 1])
    assert future.done() and future.result() == [1, 2]
    failed = in_worker(sorted, [1, "a"])
    assert failed.done() and isinstance(failed.exception(), TypeError)
