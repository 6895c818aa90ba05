"""Command line: `python -m aibeats inspect FILE...` and `python -m aibeats status [SNAKEMAKE ARGS...]`."""

import argparse
import sys
from pathlib import Path

from aibeats.errors import AiBeatsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aibeats", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="print how a generated file was made")
    inspect.add_argument("files", nargs="+", type=Path)
    status = commands.add_parser(
        "status", help="per stage: what exists, what is missing, what a rerun would regenerate and why")
    status.epilog = "Other arguments go to snakemake, e.g. --profile profiles/demo or --configfile my.yaml."
    args, snakemake_args = parser.parse_known_args(argv)
    if snakemake_args and args.command != "status":
        parser.error(f"unrecognized arguments: {' '.join(snakemake_args)}")

    try:
        if args.command == "inspect":
            from aibeats.provenance import format_recipe, read_recipe

            print("\n\n".join(format_recipe(path, read_recipe(path)) for path in args.files))
        else:
            from aibeats.status import project_status

            print(project_status(snakemake_args))
    except AiBeatsError as error:
        print(f"aibeats: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
