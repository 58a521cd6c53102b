"""Is this warehouse built from the synthetic demo data? Decided by content.

The demo package ships the sha256 of every file `qsafety demo` writes with the
default seed and scale (`fingerprint_seed42.json`), and every run of the
generator records the sha256 of the files it wrote in the raw dir it wrote
(`qsafety_demo_fingerprint.json`: other seeds, `--scale K`). A warehouse is
demo data when every one of its input files (the source audit's sha256) is one
of those files, byte for byte. Nothing here reads a lockfile: a user's lock of
their own logs, wherever it lives, cannot make their data look synthetic, and
real logs never hash like a generated file.

The build writes the decision into its audit dir (`write_provenance`:
source_provenance.csv, read by the dbt model audit_source_provenance), so the claim
ledger's `by_construction` status, the report's and the bundle's synthetic
notes all follow this one rule.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from ..hashing import sha256_file

SHIPPED = Path(__file__).with_name("fingerprint_seed42.json")
RECORD_NAME = "qsafety_demo_fingerprint.json"
NOTE = ("SYNTHETIC demo data written by `qsafety demo` (calibrated to the published TR142 v3 cell values; "
        "not the original evaluation samples)")


def fingerprint(raw_dir: Path, relative_paths) -> dict[str, str]:
    """{relative path: sha256} of the given files of raw_dir."""
    raw_dir = Path(raw_dir)
    return {rel: sha256_file(raw_dir / rel) for rel in sorted(relative_paths)}


def record(raw_dir: Path, relative_paths, seed: int, scale: int) -> Path:
    """Write the fingerprint of the files the generator just wrote into raw_dir."""
    path = Path(raw_dir) / RECORD_NAME
    body = {"note": NOTE, "seed": int(seed), "scale": int(scale), "files": fingerprint(raw_dir, relative_paths)}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _hashes(path: Path) -> set[str]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return {str(h) for h in data["files"].values()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()


def demo_hashes(raw_dir: Path | None = None) -> set[str]:
    """sha256 of every known demo file: the shipped default run, plus what the
    generator recorded in raw_dir (if it wrote there)."""
    hashes = _hashes(SHIPPED)
    if raw_dir is not None:
        hashes |= _hashes(Path(raw_dir) / RECORD_NAME)
    return hashes


def is_demo_data(inputs: list[dict], raw_dir: Path | None = None) -> bool:
    """True when there are inputs and every input's sha256 is a demo file's."""
    if not inputs:
        return False
    known = demo_hashes(raw_dir)
    return all(str(i.get("sha256") or "") in known for i in inputs)


PROVENANCE_NAME = "source_provenance.csv"
PROVENANCE_COLUMNS = ["inputs_are_demo", "input_files", "demo_files"]


def provenance(inputs: list[dict], raw_dir: Path | None = None) -> dict:
    """Whether the inputs are the synthetic demo data (is_demo_data), how many input
    files there are and how many of them hash like a demo file (PROVENANCE_COLUMNS)."""
    known = demo_hashes(raw_dir)
    return {"inputs_are_demo": bool(is_demo_data(inputs, raw_dir)), "input_files": len(inputs),
            "demo_files": sum(1 for i in inputs if str(i.get("sha256") or "") in known)}


def write_provenance(path: Path, inputs: list[dict], raw_dir: Path | None = None) -> Path:
    """`provenance` as a one-row CSV (the build dir's source_provenance.csv)."""
    row = provenance(inputs, raw_dir)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(PROVENANCE_COLUMNS)
        writer.writerow([str(row["inputs_are_demo"]).lower(), row["input_files"], row["demo_files"]])
    os.replace(tmp, path)
    return path


def is_demo_warehouse(con, raw_dir: Path | None = None) -> bool:
    """Whether every input of a built warehouse (its source audit's sha256, on a
    DuckDB connection) is a file of the synthetic demo data (is_demo_data)."""
    rows = con.execute("select actual_sha256 from audit_sources").fetchall()
    return is_demo_data([{"sha256": sha} for (sha,) in rows], raw_dir)
