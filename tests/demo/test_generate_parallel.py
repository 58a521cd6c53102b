"""The demo generator writes the quality sources in a worker process when there are two
cores: the files are the same bytes as when one process writes them all."""
from __future__ import annotations

import os

from quant_safety.demo import generate


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_demo_is_the_same_bytes_with_and_without_the_worker(tmp_path, monkeypatch):
    with_worker = generate.generate_demo(tmp_path / "two_cores")
    monkeypatch.setattr(os, "cpu_count", lambda: 1)   # quant_safety.workers.in_worker: no worker
    alone = generate.generate_demo(tmp_path / "one_core")
    assert with_worker == alone
    assert list(with_worker)[:len(generate.QUALITY_SOURCES)] == [label for label, _ in generate.QUALITY_SOURCES]
    two, one = _files(tmp_path / "two_cores"), _files(tmp_path / "one_core")
    assert len(two) >= len(with_worker)
    assert two == one
