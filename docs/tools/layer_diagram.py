"""The warehouse's layers as a mermaid flowchart, from dbt's manifest.json.

A layer is a folder under models/ (staging/base, staging, audit, intermediate, marts,
stats, reporting, ...), plus `seeds` and `sources`. An edge A -> B carries the number of
ref()/source() dependencies from a node of layer B on a node of layer A; dependencies
inside a layer are counted in its box.

  python docs/tools/layer_diagram.py                    print the diagram
  python docs/tools/layer_diagram.py --update README.md docs/architecture.md
                                                       replace the block between the
                                                       layer-diagram markers of each file

The manifest: --manifest PATH, else target/manifest.json (a plain `dbt build` or
`dbt parse`), else the last `qsafety build`'s (data/.warehouse.build/dbt_target/).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_MANIFESTS = (PROJECT_DIR / "target" / "manifest.json",
                     PROJECT_DIR / "data" / ".warehouse.build" / "dbt_target" / "manifest.json")
BEGIN = "<!-- layer-diagram:begin (docs/tools/layer_diagram.py --update) -->"
END = "<!-- layer-diagram:end -->"
# the order layers are listed in (data flows left to right); others follow by name
ORDER = ["sources", "seeds", "staging/base", "staging", "audit", "intermediate", "marts", "stats", "reporting"]


def layer_of(node: dict) -> str | None:
    kind = node.get("resource_type")
    if kind == "source":
        return "sources"
    if kind == "seed":
        return "seeds"
    if kind != "model":
        return None
    path = Path(node["original_file_path"])
    parts = path.parts[1:-1] if path.parts and path.parts[0] == "models" else path.parts[:-1]
    return "/".join(parts) or "models"


def layer_graph(manifest: dict) -> tuple[Counter, Counter, Counter]:
    """(nodes per layer, dependencies inside a layer, edges (from layer, to layer) -> count)."""
    nodes = {**manifest.get("nodes", {}), **manifest.get("sources", {})}
    sizes: Counter = Counter()
    inside: Counter = Counter()
    edges: Counter = Counter()
    for node in nodes.values():
        layer = layer_of(node)
        if layer is None or not node.get("config", {}).get("enabled", True):
            continue
        sizes[layer] += 1
        for parent_id in node.get("depends_on", {}).get("nodes", []):
            parent = nodes.get(parent_id)
            parent_layer = layer_of(parent) if parent else None
            if parent_layer is None:
                continue
            if parent_layer == layer:
                inside[layer] += 1
            else:
                edges[(parent_layer, layer)] += 1
    return sizes, inside, edges


def _sort_key(layer: str) -> tuple[int, str]:
    return (ORDER.index(layer) if layer in ORDER else len(ORDER), layer)


def _node_id(layer: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", layer)


def mermaid(manifest: dict) -> str:
    sizes, inside, edges = layer_graph(manifest)
    lines = ["```mermaid", "flowchart LR"]
    for layer in sorted(sizes, key=_sort_key):
        what = {"sources": "tables", "seeds": "seeds"}.get(layer, "models")
        label = f"{layer}<br/>{sizes[layer]} {what}"
        if inside[layer]:
            label += f", {inside[layer]} {'ref' if inside[layer] == 1 else 'refs'} inside"
        lines.append(f'    {_node_id(layer)}["{label}"]')
    for (parent, child), count in sorted(edges.items(), key=lambda e: (_sort_key(e[0][0]), _sort_key(e[0][1]))):
        lines.append(f"    {_node_id(parent)} -->|{count}| {_node_id(child)}")
    lines.append("```")
    return "\n".join(lines)


def update(path: Path, diagram: str) -> bool:
    """Replace the text between the markers of `path` with the diagram; True if it changed."""
    text = path.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{path}: no {BEGIN} ... {END} block")
    new = text[:start + len(BEGIN)] + "\n" + diagram + "\n" + text[end:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", type=Path, help="dbt's manifest.json (default: target/, else the build's)")
    parser.add_argument("--update", nargs="+", type=Path, metavar="FILE",
                        help="write the diagram between the layer-diagram markers of FILE(s)")
    args = parser.parse_args(argv)
    manifest_path = args.manifest or next((p for p in DEFAULT_MANIFESTS if p.exists()), None)
    if manifest_path is None or not manifest_path.exists():
        print("no manifest.json: run `dbt parse` (or `make run`) first, or pass --manifest", file=sys.stderr)
        return 2
    diagram = mermaid(json.loads(manifest_path.read_text(encoding="utf-8")))
    if not args.update:
        print(diagram)
        return 0
    for path in args.update:
        print(f"{path}: {'updated' if update(path, diagram) else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
