"""Demo detection by content: the shipped fingerprint is the default run's, every run records its
own, and only inputs that hash like generated files count as synthetic."""
from __future__ import annotations

import hashlib
import json

from quant_safety import manifest
from quant_safety.config import PROJECT_DIR
from quant_safety.demo import fingerprint


def test_shipped_fingerprint_is_the_default_run(demo_raw_dir):
    shipped = json.loads(fingerprint.SHIPPED.read_text())
    assert (shipped["seed"], shipped["scale"]) == (42, 1)
    assert fingerprint.fingerprint(demo_raw_dir, shipped["files"]) == shipped["files"]
    recorded = json.loads((demo_raw_dir / fingerprint.RECORD_NAME).read_text())
    assert recorded["files"] == shipped["files"]
    # the shipped demo lockfile locks the same files
    lock = manifest.read_manifest(PROJECT_DIR / "seeds" / "manifest" / "source_manifest.csv")
    assert {r["relative_path"]: r["sha256"] for r in lock} == shipped["files"]


def test_is_demo_data(tmp_path):
    shipped = json.loads(fingerprint.SHIPPED.read_text())["files"]
    demo_inputs = [{"relative_path": rel, "sha256": sha} for rel, sha in shipped.items()]
    assert fingerprint.is_demo_data(demo_inputs)
    assert not fingerprint.is_demo_data([])
    assert not fingerprint.is_demo_data(demo_inputs + [{"relative_path": "mine.jsonl", "sha256": "0" * 64}])
    # a generator run elsewhere records what it wrote: its files count, a lab's own do not
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.jsonl").write_text('{"x": 1}\n')
    fingerprint.record(raw, ["a.jsonl"], seed=7, scale=1)
    sha = hashlib.sha256(b'{"x": 1}\n').hexdigest()   # computed here, not by the code under test
    assert fingerprint.is_demo_data([{"relative_path": "a.jsonl", "sha256": sha}], raw)
    assert not fingerprint.is_demo_data([{"relative_path": "a.jsonl", "sha256": sha}], tmp_path)
