"""CLI: python -m quant_safety.demo --out DIR [--seed 42] [--scale 1]"""
from __future__ import annotations

import argparse
import sys
import time

from .generate import generate_demo


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m quant_safety.demo",
                                 description="Write the SYNTHETIC, calibrated demo raw JSONL files.")
    ap.add_argument("--out", required=True, help="raw directory to write (QSAFETY_RAW_DIR)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--scale", type=int, default=1, help="k >= 1; k > 1 adds k-1 synthetic replicas")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes for the synthetic replicas (output bytes do not depend on it)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    res = generate_demo(args.out, seed=args.seed, scale=args.scale, workers=args.workers)
    dt = time.perf_counter() - t0
    total = 0
    for label, (rel, n) in res.items():
        print(f"{label:40s} {n:>10,d}  {rel}")
        total += n
    print(f"{len(res)} files, {total:,d} rows in {dt:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
