"""`python -m bench gpu [--dry-run] [--out DIR] [--budget SECONDS]`: the GPU check (bench/gpu/README.md).

On a CUDA GPU: the full-size models built on the device with random weights, each stage at the workflow's
defaults in fp16 and bf16, then the workflow against one process's loop for 20 SDXL-Turbo images. With
--dry-run: the same script on the CPU with the tiny models, as CI runs it.
"""

import argparse
import os
from pathlib import Path

# Of the 15 minutes a GPU machine is lent for, start-up included: nothing starts after 6 minutes, so that one
# call ends within 8 (its timeout) and leaves room for a shorter second one on the still warm machine.
BUDGET_SECONDS = 360


def main(argv: list[str]) -> int:
    from bench.gpu.check import ORDER, run_check

    parser = argparse.ArgumentParser(prog="python -m bench gpu", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="on the CPU with the tiny models")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "bench/out/gpu")),
                        help="folder for results.json and results.md (default: $OUT, else bench/out/gpu)")
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS,
                        help=f"seconds after which no further model is started (default {BUDGET_SECONDS})")
    parser.add_argument("--models", nargs="+", choices=ORDER, default=list(ORDER), help="models to measure")
    args = parser.parse_args(argv)
    report = run_check(args.out, args.dry_run, args.budget, tuple(args.models))
    print((args.out / "results.md").read_text())
    measured = [result for result in report["results"] if not result["skipped"]]
    return 0 if measured and all(result["finite"] for result in measured) else 1
