"""`python -m bench [names...]`: run the benchmarks (all but the slow ones by default), print a table, update
bench/out/results.json. `python -m bench gpu [--dry-run]`: the GPU check (bench/gpu/README.md)."""

import argparse
import datetime
import importlib
import json
import sys
import traceback

from bench.harness import OUT, Measurement, Stopwatch, machine

# In the order `python -m bench` runs them; each is a module of this package with run() -> [Measurement].
BENCHMARKS = ["clips", "mix", "planning", "images", "music", "kenburns", "review", "realsize", "mix_long"]
# Run only when named: realsize builds 37 GB of full-size models on first use and takes tens of minutes on a CPU;
# mix_long makes one-hour and three-hour mixes (about 30 minutes on 2 cores).
RUN_WHEN_NAMED = {"realsize", "mix_long"}
RESULTS = OUT / "results.json"


def _format_value(value: float) -> str:
    # three significant digits, but never rounding away whole units (1234.5 stays 1234, not 1.23e+03)
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"  # noqa: PLR2004


def print_table(results: dict[str, list[Measurement]]) -> None:
    rows = [("benchmark", "measurement", "value", "target", "met", "note")]
    for benchmark, measurements in results.items():
        for m in measurements:
            met = {None: "", True: "yes", False: "NO"}[m.met]
            rows.append((benchmark, m.name, f"{_format_value(m.value)} {m.unit}", m.target or "", met, m.note))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for number, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if number == 0:
            print("  ".join("-" * width for width in widths))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["gpu"]:
        # A command of its own: it runs on a GPU machine with options of its own, and writes under $OUT.
        from bench.gpu import main as gpu_main

        return gpu_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run, of: {', '.join(BENCHMARKS)} (default: all but "
                             f"{', '.join(sorted(RUN_WHEN_NAMED))})")
    names = parser.parse_args(argv).names or [name for name in BENCHMARKS if name not in RUN_WHEN_NAMED]
    if unknown := [name for name in names if name not in BENCHMARKS]:
        parser.error(f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(BENCHMARKS)}")

    OUT.mkdir(parents=True, exist_ok=True)
    saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"benchmarks": {}}
    saved["machine"] = machine()
    results: dict[str, list[Measurement]] = {}
    failed = []
    for name in names:
        print(f"== {name}", flush=True)
        try:
            with Stopwatch() as watch:
                results[name] = importlib.import_module(f"bench.{name}").run()
        except Exception as error:  # noqa: BLE001 - one broken benchmark must not hide the others' numbers
            traceback.print_exc()
            print(f"{name} failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            failed.append(name)
            continue
        # Other work on the machine skews every number here, so how much there was goes with the results.
        # Approximate for `images` and `realsize`: their model workers are not this process's children, so they
        # count as other.
        saved["benchmarks"][name] = {
            "measured_at": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "benchmark_seconds": round(watch.seconds, 1),
            "cpu_share_of_other_processes": round(watch.foreign_load, 3),
            "measurements": [m.as_dict() for m in results[name]],
        }
        RESULTS.write_text(json.dumps(saved, indent=2) + "\n")
        print(f"   done in {watch.seconds:.0f} s; other processes took {100 * watch.foreign_load:.0f} % of the CPUs "
              "meanwhile", flush=True)
    print()
    print_table(results)
    print(f"\nresults: {RESULTS}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
